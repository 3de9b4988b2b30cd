"""Full screen, issue 9: quitting while the connection hangs restores the terminal (R1c)."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from helpers import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)")


@pytest.fixture
def blackhole_port():
    """A TCP listener that accepts and never answers: the WebSocket upgrade hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held = []
    def loop():
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:
                return
    threading.Thread(target=loop, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()
    for c in held:
        c.close()


def alternate_on(t):
    return subprocess.run(t.cmd("display-message", "-p", "-t", t.name, "#{alternate_on}"),
                          capture_output=True, text=True).stdout.strip()


def connecting(t):
    screen = t.wait_for("CONNECTING", timeout=30)
    assert alternate_on(t) == "1", "the full-screen UI runs in the alternate screen"
    return screen


def check_restored(t, screen, code):
    assert f"EXIT={code}" in screen, screen
    assert "icanon echo" in screen and "-icanon" not in screen, "the terminal is back in cooked mode"
    assert alternate_on(t) == "0", "the terminal left the alternate screen"


def test_R1_q_while_connecting_exits_and_restores_the_terminal(ui, blackhole_port):
    t = ui(args=f"--endpoint ws://127.0.0.1:{blackhole_port}")
    connecting(t)
    time.sleep(0.3)   # the upgrade request is out and unanswered
    t.keys("q")
    t.wait_for("EXIT=", timeout=2)
    check_restored(t, t.wait_until(lambda s: "icanon" in s, "the stty line after exit", timeout=5), 0)


def test_R1_sigterm_while_connecting_exits_and_restores_the_terminal(ui, blackhole_port):
    t = ui(args=f"--endpoint ws://127.0.0.1:{blackhole_port}")
    connecting(t)
    time.sleep(0.3)
    pids = t.pid()
    assert pids, "the livetalk process of the pane"
    for p in pids:
        os.kill(p, signal.SIGTERM)
    t.wait_for("EXIT=", timeout=2)
    check_restored(t, t.wait_until(lambda s: "icanon" in s, "the stty line after exit", timeout=5), 130)
