"""The full-screen UI driven through tmux, as a user would: keys in, screen text out."""
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import binary
from helpers import Tmux, pane_text  # noqa: F401 (re-exported for older imports)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)")


def test_conversation_tool_barge_in_reset_disconnect_quit(ui):
    t = ui()
    screen = t.wait_for("● CONNECTED")
    assert "emulator" in screen.splitlines()[0]          # the status line says which endpoint
    t.type("hello there 日本 🚀")
    screen = t.wait_for("Hello! I am the offline emulator. How can I help?")
    assert "hello there 日本 🚀" in screen                 # both transcripts, wide characters aligned
    for line in screen.splitlines()[1:-2]:
        assert line.count("│") in (0, 2, 4), line

    t.wait_for("▍", absent=True)   # the reply is complete (no live marker): typing now does not barge in
    t.type("start timer seconds=2")
    t.wait_for("start_timer running")
    t.wait_for("start_timer done", timeout=40)
    t.wait_for("The start_timer result")
    t.wait_for("▍", absent=True)

    t.type("please tell me a long long story about the sea and the ships and the sailors and the stars")
    t.wait_for("I heard: please")
    t.type("stop")
    screen = t.wait_for("INTERRUPTED")
    t.wait_for("[interrupted]")
    t.wait_for("I heard: stop")
    model = pane_text(t.capture(), "2 Model")
    assert "[interrupted]" in model
    if "PULSE_SERVER" in os.environ:
        # With a speaker, the cut turn is trimmed to what was actually played.
        assert "sailors and the stars" not in model, model

    t.keys("r")
    t.wait_for("hello there", absent=True)
    t.wait_for("● CONNECTED")
    t.keys("d")
    t.wait_for("● DISCONNECTED")
    t.keys("d")
    t.wait_for("● CONNECTED")

    t.keys("q")
    t.wait_for("EXIT=0")
    screen = t.wait_for("icanon")   # the shell prints the stty line just after EXIT=
    assert "icanon echo" in screen and "-icanon" not in screen   # the terminal is back in cooked mode


def test_resize_and_too_small(ui):
    t = ui(width=100, height=30)
    t.wait_for("● CONNECTED")
    t.resize(120, 40)
    screen = t.wait_until(lambda s: len(s.rstrip("\n").split("\n")) == 40 and s.rstrip("\n").split("\n")[-1].startswith("Space talk"),
                          "a redraw at 120x40")
    assert len(screen.split("\n")[1]) == 120 or "┐" in screen.split("\n")[1][100:]
    t.resize(60, 20)
    t.wait_for("Enlarge the terminal")
    t.resize(80, 24)
    t.wait_for("1 You")
    t.keys("q")
    t.wait_for("EXIT=0")


def test_help_overlay_and_typing_cancel(ui):
    t = ui()
    t.wait_for("● CONNECTED")
    t.keys("?")
    t.wait_for("Keys (any key closes)")
    t.keys("x")
    t.wait_for("Keys (any key closes)", absent=True)
    t.keys("i")
    t.keys("-l", "never sent")
    t.wait_for("> never sent")
    t.keys("Escape")
    t.wait_for("> never sent", absent=True)
    t.keys("C-c")
    t.wait_for("EXIT=0")


def test_no_color_uses_monochrome(ui):
    t = ui(env={"NO_COLOR": "1"})
    t.wait_for("● CONNECTED")
    colored = t.capture(colors=True)
    import re
    assert not re.search(r"\x1b\[[0-9;]*(3[0-7]|38;5|9[0-7])m", colored), "no colour escapes under NO_COLOR"
    assert "\x1b[7m" in colored or "\x1b[1m" in colored            # bold/reverse still carry meaning
    assert "+-" in colored or "|" in colored                        # the monochrome theme draws in ASCII
    t.keys("q")
    t.wait_for("EXIT=0")


def test_sigterm_restores_the_terminal(ui):
    t = ui()
    t.wait_for("● CONNECTED")
    before = set(t.pid())
    for p in before:
        try:
            os.kill(p, 15)
        except ProcessLookupError:
            pass
    t.wait_for("EXIT=")
    screen = t.wait_for("icanon")   # the shell prints the stty line just after EXIT=
    assert "EXIT=130" in screen
    assert "icanon echo" in screen and "-icanon" not in screen


def test_bad_theme_is_an_error_before_the_screen(ui, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[roles]\ntext = { fg = "notacolour" }\n')
    t = ui(args=f"--theme {bad}")
    screen = t.wait_for("EXIT=64")
    assert f"{bad}:3: roles.text.fg: not a colour" in screen.replace("\n", "")
