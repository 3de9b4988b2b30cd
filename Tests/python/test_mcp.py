"""MCP servers as tools (issue 12), against real servers that nobody here wrote — mcp-server-time
and mcp-server-git from PyPI, pinned in requirements.txt — and the project's own test server
(mcp_test_server.py: slow calls, errors, cancellation, a crash mid-call), all launched by livetalk
as real processes, in line mode and in the full screen (tmux). The embedded emulator calls the
tools: a turn that names a declared function (underscores read as spaces) calls it, with the
turn's key=value words as arguments."""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import binary
from helpers import Tmux

BIN_DIR = pathlib.Path(sys.executable).parent
TEST_SERVER = pathlib.Path(__file__).parent / "mcp_test_server.py"

pytestmark = pytest.mark.skipif(not (BIN_DIR / "mcp-server-time").exists() or not (BIN_DIR / "mcp-server-git").exists(),
                                reason="needs mcp-server-time and mcp-server-git in the test venv (scripts/test installs them)")


def toml_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items):
    return "[" + ", ".join(toml_str(i) for i in items) + "]"


@pytest.fixture
def repo(tmp_path):
    """A temporary git repository with two commits and one unstaged change."""
    r = tmp_path / "repo"
    r.mkdir()
    def git(*a):
        subprocess.run(["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.org", *a], cwd=r, check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    (r / "notes.txt").write_text("first line\n")
    git("add", "notes.txt")
    git("commit", "-qm", "first commit of the notes")
    (r / "notes.txt").write_text("first line\nsecond line\n")
    git("commit", "-qam", "second commit adds a line")
    (r / "notes.txt").write_text("first line\nsecond line\nan unstaged third line\n")
    return r


def write_config(tmp_path, *, time_allow=("*",), git_repo=None, git_allow=("git_status", "git_log", "git_show"),
                 test=False, test_allow=(), test_timeout=None):
    marks = tmp_path / "marks"
    parts = []
    parts.append(f"[mcp.time]\ncommand = {toml_str(BIN_DIR / 'mcp-server-time')}\n"
                 f"args = [\"--local-timezone\", \"Europe/Paris\"]\nallow = {toml_list(time_allow)}\n")
    if git_repo is not None:
        parts.append(f"[mcp.git]\ncommand = {toml_str(BIN_DIR / 'mcp-server-git')}\n"
                     f"args = {toml_list(['--repository', str(git_repo)])}\nallow = {toml_list(git_allow)}\n")
    if test:
        parts.append(f"[mcp.test]\ncommand = {toml_str(sys.executable)}\n"
                     f"args = {toml_list([str(TEST_SERVER), '--marks', str(marks)])}\n"
                     f"env = {{ PYTHONUNBUFFERED = \"1\" }}\ncwd = {toml_str(tmp_path)}\nallow = {toml_list(test_allow)}\n"
                     + (f"timeout = {test_timeout}\n" if test_timeout is not None else ""))
    path = tmp_path / "config.toml"
    path.write_text("\n".join(parts))
    return path, marks


def env_for(tmp_path):
    e = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    e["HOME"] = str(tmp_path)
    e["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    e["XDG_STATE_HOME"] = str(tmp_path / "state")
    return e


def run_line(tmp_path, config, stdin, *extra, timeout=120):
    log = tmp_path / "livetalk.log"
    p = subprocess.run([binary(), "--no-tui", "--text", "--audio", "null", "--config", str(config), "--log-file", str(log), "--mcp-start-timeout", "90", *extra],
                       input=stdin, capture_output=True, text=True, env=env_for(tmp_path), timeout=timeout)
    return p, log


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped yet) is gone for our purpose.
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout}s for {what} to end; still running: {left}")


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def wait_file(path, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout}s for {what} ({path})")


def test_livetalk_tools_lists_builtin_and_server_tools(tmp_path, repo):
    config, marks = write_config(tmp_path, git_repo=repo, test=True, test_allow=["add_numbers"])
    p = subprocess.run([binary(), "tools", "--config", str(config), "--log-file", str(tmp_path / "tools.log"),
                        "--start-timeout", "90"],
                       capture_output=True, text=True, env=env_for(tmp_path), timeout=120)
    assert p.returncode == 0, p.stderr
    rows = {line.split()[0]: line for line in p.stdout.splitlines()[1:]}
    assert p.stdout.splitlines()[0].split() == ["NAME", "FROM", "RUNS", "DESCRIPTION"]
    # Built-ins keep their names; mcp-server-time's get_current_time collides with the built-in
    # and is prefixed with its server's name; every other name is left as the server gives it.
    assert "built-in" in rows["get_current_time"] and "The current local date and time" in rows["get_current_time"]
    assert "built-in" in rows["start_timer"]
    assert "time › get_current_time" in rows["time_get_current_time"]
    assert "Get current time in a specific timezone" in rows["time_get_current_time"]
    assert "time › convert_time" in rows["convert_time"] and "at once" in rows["convert_time"]
    assert "git › git_status" in rows["git_status"] and "at once" in rows["git_status"]
    assert "git › git_commit" in rows["git_commit"] and "asks" in rows["git_commit"]
    assert "test › add_numbers" in rows["add_numbers"] and "at once" in rows["add_numbers"]
    assert "asks" in rows["slow_echo"] and "Echoes the text" in rows["slow_echo"]
    # The servers were stopped with the listing; their stderr went to the log.
    pid = int(wait_file(marks / "started", "the test server's start").split()[0])
    wait_gone([pid], "the test server after `livetalk tools`")
    assert "livetalk-test server started" in (tmp_path / "tools.log").read_text()


def test_tools_with_a_server_that_cannot_start(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp.nothere]\ncommand = "/nonexistent/mcp-server"\n')
    p = subprocess.run([binary(), "tools", "--config", str(config), "--log-file", str(tmp_path / "l.log"), "--start-timeout", "3"],
                       capture_output=True, text=True, env=env_for(tmp_path), timeout=60)
    assert p.returncode == 69, p.stdout + p.stderr
    assert "get_current_time" in p.stdout                        # the built-ins are still listed
    assert "the MCP server nothere did not list its tools" in p.stderr


def test_bad_mcp_config_is_a_clear_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp.time]\nargs = ["x"]\n')
    p = subprocess.run([binary(), "--no-tui", "--config", str(config)], input="", capture_output=True, text=True,
                       env=env_for(tmp_path), timeout=60)
    assert p.returncode == 64
    assert f"{config}:1: [mcp.time] needs command" in p.stderr
    config.write_text('[mcp.time]\ncommand = "x"\ntimeout = "soon"\n')
    p = subprocess.run([binary(), "--no-tui", "--config", str(config)], input="", capture_output=True, text=True,
                       env=env_for(tmp_path), timeout=60)
    assert p.returncode == 64 and ":3: mcp.time.timeout must be a number of seconds" in p.stderr, p.stderr


def test_line_mode_time_and_git_tools_declared_called_and_redeclared(tmp_path, repo):
    config, _ = write_config(tmp_path, git_repo=repo)
    p, log = run_line(tmp_path, config, "\n".join([
        "what can you do",
        "time get current time timezone=Asia/Tokyo",
        "convert time source_timezone=Europe/Paris time=12:00 target_timezone=America/New_York",
        f"git status repo_path={repo}",
        f"git log repo_path={repo} max_count=5",
        f"git show repo_path={repo} revision=HEAD",
        f"git diff unstaged repo_path={repo}",
        "/disconnect",
        "/connect",
        "time get current time timezone=Europe/London",
        "/reset",
        f"git status repo_path={repo}",
    ]) + "\n")
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert "[mcp] starting MCP servers git, time; connecting once they list their tools" in out
    assert "[mcp] MCP server time: 2 tools ready" in out
    assert "[mcp] MCP server git: 12 tools ready" in out
    # Declared in setup: the emulator names every declared function.
    assert "time get current time" in out and "convert time" in out and "git status" in out and "git commit" in out
    # mcp-server-time, called by the emulator with the turn's arguments, its structured result to the model.
    assert "[tool] time › get_current_time running {\"timezone\":\"Asia/Tokyo\"}" in out
    assert "[tool] time › get_current_time done in" in out and "Asia/Tokyo" in out
    assert "[tool] time › convert_time done in" in out and "America/New_York" in out
    assert "model> The time_get_current_time result: datetime" in out
    # mcp-server-git, read-only calls on the temporary repository.
    assert "[tool] git › git_status done in" in out and "Changes not staged for commit" in out and "notes.txt" in out
    assert "[tool] git › git_log done in" in out and "second commit adds a line" in out and "first commit of the notes" in out
    assert "[tool] git › git_show done in" in out and "+second line" in out
    # Not on the allow-list: line mode refuses it without --yes-tools, and the model is told.
    assert "[tool] git › git_diff_unstaged failed in" in out and "the user did not allow this call of git_diff_unstaged" in out
    assert "model> git_diff_unstaged failed: the user did not allow" in out
    # Re-declared after a reconnect and after a reset (a fresh session).
    assert out.count("[tool] time › get_current_time done in") == 2 and "Europe/London" in out
    assert out.count("[tool] git › git_status done in") == 2
    # Nothing of the servers' stderr on the terminal; it is in the log.
    assert "INFO" not in p.stderr and "Traceback" not in p.stderr
    assert "[livetalk.mcp.git]" in log.read_text()


def test_line_mode_yes_tools_runs_calls_outside_the_allow_list(tmp_path, repo):
    config, _ = write_config(tmp_path, git_repo=repo, time_allow=[])
    p, _ = run_line(tmp_path, config, f"git diff unstaged repo_path={repo}\nconvert time source_timezone=Etc/UTC time=08:30 "
                    "target_timezone=Asia/Tokyo\n", "--yes-tools")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "[tool] git › git_diff_unstaged done in" in p.stdout and "+an unstaged third line" in p.stdout
    assert "[tool] time › convert_time done in" in p.stdout and "Asia/Tokyo" in p.stdout


class LineSession:
    """livetalk in line mode with stdin kept open: lines go in when the test decides."""

    def __init__(self, tmp_path, config, *extra):
        import threading
        self.log = tmp_path / "livetalk.log"
        self.proc = subprocess.Popen([binary(), "--no-tui", "--text", "--audio", "null", "--config", str(config),
                                      "--log-file", str(self.log), "--mcp-start-timeout", "90", *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env_for(tmp_path))
        self.lines = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True)
        self.thread.start()

    @property
    def out(self):
        return "".join(self.lines)

    def wait_for(self, text, count=1, timeout=60):
        deadline = time.time() + timeout
        while self.out.count(text) < count:
            assert time.time() < deadline, f"waited {timeout}s for {text!r} ×{count}; output:\n{self.out}"
            assert self.proc.poll() is None or self.thread.is_alive(), f"livetalk ended; output:\n{self.out}"
            time.sleep(0.05)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=30):
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        self.thread.join(timeout=10)
        return code, self.out, self.proc.stderr.read()


def test_errors_timeout_and_crash_mid_call(tmp_path):
    config, marks = write_config(tmp_path, test=True, test_allow=["*"], test_timeout=2)
    s = LineSession(tmp_path, config)
    try:
        s.wait_for("[state] CONNECTED")
        s.send("add numbers a=2 b=40")
        s.wait_for("model> The add_numbers result")
        s.send("always fail reason=because")
        s.wait_for("model> always_fail failed")
        s.send("slow echo text=late seconds=30")
        s.wait_for("model> slow_echo failed")
        s.send("crash now code=7")
        s.wait_for("model> crash_now failed")
        s.wait_for("[mcp] MCP server test: 4 tools ready", count=2)   # restarted
        s.send("add numbers a=1 b=1")
        s.wait_for("model> The add_numbers result", count=2)
        code, out, err = s.finish()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    assert code == 0, out + err
    assert "[tool] test › add_numbers done in" in out and '{"result":"42"}' in out
    # An error result is a failure the model can explain.
    assert "[tool] test › always_fail failed in" in out and "always_fail failed because" in out
    assert "model> always_fail failed: Error executing tool always_fail: always_fail failed because" in out
    # The timeout (2 s here) answers the model and cancels the call on the server (MCP's notifications/cancelled).
    assert "[tool] test › slow_echo failed in" in out and "slow_echo did not answer within 2 s: cancelled" in out
    assert wait_file(marks / "slow_cancelled", "the server to see the cancel notification").strip() == "late"
    assert not (marks / "slow_finished").exists()
    # A crash mid-call: reported, the call failed, the server restarted and usable again.
    assert "[mcp] MCP server test exited (status 7); restarting in 1.0 s" in out
    assert "[tool] test › crash_now failed in" in out and "the MCP server test exited during the call (status 7)" in out
    assert '{"result":"2"}' in out
    pids = [int(x) for x in (marks / "started").read_text().split()]
    assert len(pids) == 2 and pids[0] != pids[1]
    wait_gone(pids, "the test server after livetalk ended")
    # Its stderr went to the log, not the terminal.
    assert "crashing on purpose" not in out + err
    assert "crashing on purpose" in s.log.read_text()


@pytest.mark.parametrize("how", ["eof", "sigterm", "sigkill"])
def test_no_server_outlives_livetalk(tmp_path, repo, how):
    config, marks = write_config(tmp_path, git_repo=repo, test=True, test_allow=["*"])
    proc = subprocess.Popen([binary(), "--no-tui", "--text", "--audio", "null", "--config", str(config), "--log-file", str(tmp_path / "l.log"),
                             "--mcp-start-timeout", "90"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path))
    try:
        deadline = time.time() + 60
        seen = ""
        while "[state] CONNECTED" not in seen:
            assert time.time() < deadline, f"waited 60s for CONNECTED; got {seen!r}"
            seen += proc.stdout.readline()
        kids = children(proc.pid)
        assert len(kids) == 3, f"expected the three servers as children, got {kids}"
        assert int(wait_file(marks / "started", "the test server's start").split()[0]) in kids
        if how == "eof":
            proc.stdin.close()
            assert proc.wait(timeout=30) == 0
        elif how == "sigterm":
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 130
        else:
            # livetalk dies without a chance to clean up: each server sees its stdin end and exits.
            proc.kill()
            proc.wait(timeout=10)
        wait_gone(kids, f"the MCP servers after {how}")
    finally:
        if proc.poll() is None:
            proc.kill()


tmux_only = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)")


@tmux_only
def test_screen_tool_pane_allow_prompt_refusal_and_quit(ui, tmp_path, repo):
    config, marks = write_config(tmp_path, git_repo=repo, test=True, test_allow=[])
    log = tmp_path / "screen.log"
    t = ui(width=120, height=40, args=f"--text --audio null --config {config} --log-file {log} --mcp-start-timeout 90")
    t.wait_for("● CONNECTED", timeout=60)
    t.type("time get current time timezone=Asia/Tokyo")
    screen = t.wait_for("time › get_current_time done")
    t.wait_for("Asia/Tokyo")
    t.wait_for("The time_get_current_time result")
    screen = t.capture()
    assert '{"timezone":"Asia/Tokyo"}' in screen               # short arguments
    assert '→ {"datetime"' in screen                           # the result, summarised

    t.type(f"git status repo_path={repo}")
    t.wait_for("git › git_status done")
    t.wait_for("The git_status result")

    # Not allowed: the call asks in the tool pane; y runs it.
    t.type("add numbers a=20 b=22")
    t.wait_for("test › add_numbers asking")
    screen = t.wait_for("allow? y/n")
    assert "y allow the tool call" in screen.splitlines()[-1]   # the hint line says what y and n do
    t.keys("y")
    t.wait_for("test › add_numbers done")
    t.wait_for("The add_numbers result: result 42")

    # n refuses it: the model is told and says so.
    t.type("add numbers a=1 b=2")
    t.wait_for("allow? y/n")
    t.keys("n")
    t.wait_for("test › add_numbers failed")
    t.wait_for("add_numbers failed: the user did not allow")

    kids = [pid for lt in t.pid() for pid in children(lt)]
    assert len(kids) == 3, kids
    t.keys("q")
    t.wait_for("EXIT=0", timeout=15)
    wait_gone(kids, "the MCP servers after q")
    assert "livetalk-test server started" not in t.capture()    # server stderr never on screen
    assert "livetalk-test server started" in log.read_text()


@tmux_only
def test_screen_cancellation_and_crash(ui, tmp_path):
    config, marks = write_config(tmp_path, test=True, test_allow=["slow_echo", "crash_now"])
    log = tmp_path / "screen.log"
    t = ui(width=120, height=40, args=f"--text --audio null --config {config} --log-file {log} --mcp-start-timeout 90")
    t.wait_for("● CONNECTED", timeout=60)
    # The model's toolCallCancellation (the emulator sends it when a new turn interrupts a call
    # still running) becomes MCP's notifications/cancelled: the server's call is cancelled.
    t.type("slow echo text=cancelme seconds=60")
    t.wait_for("test › slow_echo running")
    wait_file(marks / "slow_started", "the slow call to start on the server")
    t.type("hello")
    t.wait_for("test › slow_echo cancelled")
    assert wait_file(marks / "slow_cancelled", "the server to see the cancel").strip() == "cancelme"
    t.wait_for("Hello! I am the offline emulator")

    # A crash mid-call: the call fails, the news is in the session pane, the server comes back.
    t.type("crash now code=5")
    t.wait_for("test › crash_now failed")
    t.wait_until(lambda s: "exited (status 5)" in s or "tools ready" in s, "the crash reported in the session pane")
    wait_file(marks / "started", "the test server to start")
    deadline = time.time() + 30
    while len((marks / "started").read_text().split()) < 2:
        assert time.time() < deadline, "waited 30s for the test server to be restarted"
        time.sleep(0.05)
    t.type("slow echo text=again seconds=0")
    t.wait_for("test › slow_echo done")
    t.wait_for("The slow_echo result: result echo: again")
    assert "crashing on purpose" not in t.capture()
    kids = [pid for lt in t.pid() for pid in children(lt)]
    os.kill(t.pid()[0], signal.SIGTERM)
    t.wait_for("EXIT=130", timeout=15)
    wait_gone(kids, "the MCP server after SIGTERM")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_server(tmp_path):
    """`url = "http://…"`: streamable HTTP through the SDK's HTTP client, which on Linux reads
    plain JSON responses (no server-sent events): the test server answers with json_response."""
    port = free_port()
    marks = tmp_path / "marks"
    server = subprocess.Popen([sys.executable, str(TEST_SERVER), "--http", str(port), "--marks", str(marks)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_file(marks / "started", "the HTTP test server to start")
        deadline = time.time() + 30
        import socket
        while True:   # listening?
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "waited 30s for the HTTP test server to listen"
                time.sleep(0.1)
        config = tmp_path / "config.toml"
        config.write_text(f'[mcp.remote]\nurl = "http://127.0.0.1:{port}/mcp"\nallow = ["add_numbers"]\ntimeout = 2\n')
        p, _ = run_line(tmp_path, config, "add numbers a=20 b=22\nalways fail reason=remotely\nslow echo text=x seconds=0\n")
        out = p.stdout
        assert p.returncode == 0, out + p.stderr
        assert "[mcp] MCP server remote: 4 tools ready" in out
        assert "[tool] remote › add_numbers done in" in out and '{"result":"42"}' in out
        # Not allowed (allow = ["add_numbers"]): refused in line mode without --yes-tools.
        assert "[tool] remote › always_fail failed in" in out and "did not allow" in out
        p, _ = run_line(tmp_path, config, "always fail reason=remotely\n", "--yes-tools")
        assert "always_fail failed remotely" in p.stdout, p.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_unreachable_http_server_is_reported(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[mcp.remote]\nurl = "http://127.0.0.1:{free_port()}/mcp"\n')
    p, _ = run_line(tmp_path, config, "hello\n")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "[mcp] MCP server remote could not start:" in p.stdout and "restarting in 1.0 s" in p.stdout
    assert "Hello! I am the offline emulator" in p.stdout        # the conversation goes on without it


def test_quit_while_a_server_is_still_starting(tmp_path):
    """A server that never answers the handshake holds the first connect (up to the start
    deadline, 90 s here) but never the user: /quit ends livetalk and the server with it."""
    config = tmp_path / "config.toml"
    marks = tmp_path / "marks"
    config.write_text(f'[mcp.hang]\ncommand = "/bin/sh"\nargs = ["-c", "echo $$ > {marks}; exec sleep 300"]\n')
    proc = subprocess.Popen([binary(), "--no-tui", "--text", "--audio", "null", "--config", str(config),
                             "--log-file", str(tmp_path / "l.log"), "--mcp-start-timeout", "90"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path))
    try:
        pid = int(wait_file(marks, "the hanging server to start").split()[0])
        out, _ = proc.communicate("/quit\n", timeout=45)   # well before the 90 s start deadline
        assert proc.returncode == 0
        assert "[state] CONNECTED" not in out
        wait_gone([pid], "the hanging server after /quit")
    finally:
        if proc.poll() is None:
            proc.kill()
