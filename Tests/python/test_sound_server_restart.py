"""Issue 9 item 5: the sound server comes and goes under a running client.

A private PulseAudio daemon (its own socket, null sinks) is killed and started again while
`livetalk --no-tui --audio pulse` talks to the embedded emulator. The client must say so in one
line per stream, keep the conversation going in text, reopen both streams when the server is
back, and never crash or restart.
"""
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import binary

pytestmark = pytest.mark.skipif(shutil.which("pulseaudio") is None, reason="pulseaudio is not installed")


class PrivatePulse:
    """`pulseaudio -n` on a socket of its own; start() and kill() may be repeated."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="livetalk-pa-restart-"))
        self.socket = self.dir / "native"
        (self.dir / "headless.pa").write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            "load-module module-null-sink sink_name=spk rate=48000 channels=2\n"
            "load-module module-null-sink sink_name=mic rate=16000 channels=1\n"
            "set-default-sink spk\nset-default-source mic.monitor\n")
        self.proc = None

    @property
    def server(self):
        return f"unix:{self.socket}"

    def start(self):
        env = dict(os.environ, HOME=str(self.dir), XDG_RUNTIME_DIR=str(self.dir))
        self.proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "--realtime=no",
             "--high-priority=no", "--disallow-exit", "-n", "-F", str(self.dir / "headless.pa"),
             f"--log-target=file:{self.dir / 'pa.log'}", "--log-level=notice"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = subprocess.run(["pactl", "info"], env=dict(os.environ, PULSE_SERVER=self.server),
                               capture_output=True)
            if r.returncode == 0:
                return
            assert self.proc.poll() is None, f"pulseaudio exited: {(self.dir / 'pa.log').read_text()}"
            time.sleep(0.1)
        pytest.fail("the private PulseAudio daemon did not answer within 20 s")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Lines:
    """Reads a process's stdout on a thread; wait_for() has a deadline and says what it waited for."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait_for(self, what, pred, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"livetalk ended while waiting for {what}; output:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if pred(line):
                return line
        pytest.fail(f"gave up after {seconds} s waiting for {what}; output:\n" + "\n".join(self.seen))


def test_sound_server_killed_and_restarted_under_a_running_client():
    pa = PrivatePulse()
    pa.start()
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.update(PULSE_SERVER=pa.server, XDG_STATE_HOME=str(pa.dir), XDG_CONFIG_HOME=str(pa.dir))
    p = subprocess.Popen([binary(), "--no-tui", "--audio", "pulse"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1)
    try:
        out = Lines(p.stdout)
        out.wait_for("CONNECTED", lambda l: l.startswith("[state] CONNECTED"))

        pa.kill()
        out.wait_for("the loss to be reported", lambda l: l.startswith("[audio]") and "retrying" in l)
        # The conversation goes on in text while the sound server is gone.
        p.stdin.write("hello\n")
        p.stdin.flush()
        out.wait_for("a reply while audio is down", lambda l: l.startswith("model>"))
        assert p.poll() is None, "livetalk exited when the sound server died"

        pa.start()
        back = set()
        while back != {"microphone", "speaker"}:
            line = out.wait_for("both streams to reopen", lambda l: l.startswith("[audio]") and l.endswith("is back"))
            back.update(w for w in ("microphone", "speaker") if w in line)

        p.stdin.write("hello again\n")
        p.stdin.flush()
        out.wait_for("a reply after the server came back", lambda l: l.startswith("model>"))
        p.stdin.close()
        rc = p.wait(timeout=30)
        assert rc == 0, "\n".join(out.seen)
        lost = [l for l in out.seen if l.startswith("[audio]") and "retrying" in l]
        # One line per stream and outage, never a storm.
        assert 1 <= len(lost) <= 2, lost
    finally:
        if p.poll() is None:
            p.kill()
        pa.cleanup()
