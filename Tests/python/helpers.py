"""Helpers shared by the tests: a private tmux session driving livetalk as a user would."""
import os
import subprocess
import time
import uuid

from conftest import binary


class Tmux:
    def __init__(self, tmp_path, width=100, height=30, args="", env=None):
        self.name = "lt-" + uuid.uuid4().hex[:8]
        e = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_STATE_HOME": str(tmp_path / "s"),
             "LANG": "C.UTF-8"}
        if "PULSE_SERVER" in os.environ:   # tmux panes inherit the tmux server's environment, not ours
            e["PULSE_SERVER"] = os.environ["PULSE_SERVER"]
        e.update(env or {})
        exports = " ".join(f"{k}={v}" for k, v in e.items())
        unset = "-u GEMINI_API_KEY -u GOOGLE_API_KEY -u NO_COLOR"
        cmd = (f"env {unset} {exports} {binary()} {args}; echo EXIT=$?; "
               "stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo; sleep 120")
        # Each session has its own tmux server (-L): a test never races another's server shutting down.
        p = subprocess.run(self.cmd("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), cmd),
                           capture_output=True, text=True)
        assert p.returncode == 0, f"tmux new-session failed: {p.stderr}"

    def cmd(self, *args):
        """A tmux command line for this session's private server."""
        return ["tmux", "-L", self.name, *args]

    def capture(self, colors=False):
        args = self.cmd("capture-pane", "-p", "-t", self.name) + (["-e"] if colors else [])
        return subprocess.run(args, capture_output=True, text=True).stdout

    def wait_for(self, text, timeout=30, absent=False):
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.capture()
            if (text in screen) != absent:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout}s for {'absence of ' if absent else ''}{text!r}; screen:\n{self.capture()}")

    def wait_until(self, check, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.capture()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout}s for {what}; screen:\n{self.capture()}")

    def keys(self, *keys):
        subprocess.run(self.cmd("send-keys", "-t", self.name, *keys), check=True)

    def type(self, text):
        self.keys("i")
        self.keys("-l", text)
        self.keys("Enter")

    def resize(self, w, h):
        subprocess.run(self.cmd("resize-window", "-t", self.name, "-x", str(w), "-y", str(h)), check=True)

    def pid(self):
        """The livetalk process of this pane (the pane's shell runs it as a child)."""
        shell = subprocess.run(self.cmd("list-panes", "-t", self.name, "-F", "#{pane_pid}"), capture_output=True, text=True).stdout.split()
        kids = subprocess.run(["pgrep", "-P", shell[0]], capture_output=True, text=True).stdout.split()
        return [int(p) for p in kids]

    def close(self):
        subprocess.run(self.cmd("kill-server"), capture_output=True)
        sock = os.path.join(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}", self.name)
        if os.path.exists(sock):
            os.unlink(sock)


def pane_text(screen, title):
    """The text inside the left-column pane titled `title`, lines joined with spaces."""
    lines = screen.split("\n")
    start = next(i for i, l in enumerate(lines) if title in l)
    out = []
    for l in lines[start + 1:]:
        left = l.split("││")[0] if "││" in l else l
        if left.startswith("└"):
            break
        out.append(left.strip("│").strip())
    return " ".join(x for x in out if x)
