"""Recording a session (R, /record, --record): the folder is readable, aligned and finalised however livetalk ends."""
import json
import os
import shutil
import stat
import struct
import subprocess
import wave

import pytest

from conftest import binary
from helpers import Tmux

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)")


def only_folder(base):
    folders = sorted(p for p in base.iterdir() if p.is_dir())
    assert len(folders) == 1, folders
    return folders[0]


def check_recording(folder, texts):
    """The three files are private and finalised; audio.wav is stereo 24 kHz and spans the transcript's time."""
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("conversation.jsonl", "conversation.md", "audio.wav"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    md = (folder / "conversation.md").read_text()
    for t in texts:
        assert t in md, f"{t!r} missing from conversation.md:\n{md}"
    assert "Recording ended at" in md, md   # written by finish()
    events = [json.loads(line) for line in (folder / "conversation.jsonl").read_text().splitlines()]
    assert events, "conversation.jsonl is empty"
    span = max(e["t"] for e in events)
    path = folder / "audio.wav"
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 24000, 2)
        frames = w.getnframes()
        data = w.readframes(frames)
    assert os.path.getsize(path) == 44 + frames * 4, "the header's sizes match the file (finalised)"
    seconds = frames / 24000
    assert abs(seconds - span) < 1.5, f"audio {seconds:.2f} s vs transcript span {span:.2f} s"
    samples = struct.unpack(f"<{frames * 2}h", data)
    right = max(abs(s) for s in samples[1::2])
    assert right > 1000, "the model's voice is on the right channel"
    return md


@needs_tmux
def test_record_from_the_full_screen_then_quit(tmp_path):
    t = Tmux(tmp_path, width=110, height=34)
    try:
        t.wait_for("● CONNECTED")
        t.keys("R")
        t.wait_for("● REC")
        t.type("my name is Ada")
        t.wait_for("Nice to meet you, Ada.")
        t.wait_for("▍", absent=True)
        t.type("please get current time")
        t.wait_for("get_current_time done")
        t.wait_for("The get_current_time result")
        t.wait_for("▍", absent=True)
        t.keys("q")
        t.wait_for("EXIT=0")
    finally:
        t.close()
    folder = only_folder(tmp_path / ".local" / "share" / "livetalk" / "recordings")
    md = check_recording(folder, ["**You**: my name is Ada", "**Model**: Nice to meet you, Ada.",
                                  "tool `get_current_time`", "**Model**: The get_current_time result"])
    assert md.index("my name is Ada") < md.index("get_current_time")   # in order


@needs_tmux
def test_recording_is_finalised_after_sigterm(tmp_path):
    t = Tmux(tmp_path, width=110, height=34)
    try:
        t.wait_for("● CONNECTED")
        t.keys("R")
        t.wait_for("● REC")
        t.type("hello")
        t.wait_for("Hello! I am the offline emulator")
        t.wait_for("▍", absent=True)
        for p in t.pid():
            os.kill(p, 15)
        screen = t.wait_for("EXIT=")
        assert "EXIT=130" in screen
    finally:
        t.close()
    folder = only_folder(tmp_path / ".local" / "share" / "livetalk" / "recordings")
    check_recording(folder, ["**You**: hello", "**Model**: Hello! I am the offline emulator"])


def test_record_flag_in_line_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_STATE_HOME=str(tmp_path / "s"))
    out = tmp_path / "rec"
    p = subprocess.run([binary(), "--no-tui", "--record", str(out)], input="hello\n", capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert f"[record] recording stopped" not in p.stdout   # it records to the end
    check_recording(out, ["**You**: hello", "**Model**: Hello! I am the offline emulator"])
    # A bare --record uses the default folder.
    p = subprocess.run([binary(), "--no-tui", "--record"], input="hello\n", capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    only_folder(tmp_path / ".local" / "share" / "livetalk" / "recordings")
