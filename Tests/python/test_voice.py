"""A new user's first minute, by voice: `livetalk` with no key opens on its embedded emulator, a
question is spoken into the microphone, the answer is heard at the speaker and both transcripts
are on screen. Real parts only: tmux, the test PulseAudio daemon, espeak-ng for the user's voice."""
import os
import re
import shutil
import subprocess
import time
import wave

import pytest

from test_audio_cli import rms_dbfs
from helpers import Tmux, pane_text

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)"),
    pytest.mark.skipif("PULSE_SERVER" not in os.environ, reason="needs the test PulseAudio daemon (scripts/test)"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (scripts/setup installs it)"),
]


def spoken_wav(path, text):
    """espeak-ng saying `text` (the user's voice), with 0.3 s of silence before and 1 s after."""
    raw = str(path) + ".raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "160", "-w", raw, text], check=True)
    with wave.open(raw) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    with wave.open(str(path), "wb") as o:
        o.setnchannels(1)
        o.setsampwidth(2)
        o.setframerate(rate)
        o.writeframes(b"\0\0" * int(rate * 0.3) + frames + b"\0\0" * rate)


def test_spoken_question_is_answered_aloud_with_both_transcripts(tmp_path):
    question = tmp_path / "question.wav"
    spoken_wav(question, "what time is it")
    recording = open(tmp_path / "speaker.raw", "wb")   # a file: a pipe would fill and stall parec
    rec = subprocess.Popen(["parec", "-d", "voice_out.monitor", "--rate=16000", "--channels=1", "--format=s16le",
                            "--latency-msec=10", "--raw"], stdout=recording)
    t = Tmux(tmp_path, width=100, height=30, args="--mic mic_feed.monitor --speaker voice_out")
    try:
        screen = t.wait_for("● CONNECTED")
        assert "emulator" in screen.splitlines()[0]
        time.sleep(0.5)   # the microphone stream is open
        subprocess.run(["paplay", "-d", "mic_feed", str(question)], check=True)
        t.wait_for("It is ", timeout=60)
        t.wait_for("▍", absent=True, timeout=30)   # the answer has been spoken to the end
        time.sleep(0.5)
        screen = t.capture()
        t.keys("q")
        t.wait_for("EXIT=0")
    finally:
        rec.terminate()
        rec.wait()
        recording.close()
        t.close()
    you, model = pane_text(screen, "1 You"), pane_text(screen, "2 Model")
    assert "what time is it" in you, screen
    assert re.search(r"It is \d{1,2}:\d\d [AP]M\.", model), screen
    # The answer (about 1.5 s of espeak-ng speech) is audible at the speaker's monitor.
    raw = (tmp_path / "speaker.raw").read_bytes()
    win = 800   # 25 ms
    loud = sum(1 for i in range(0, len(raw) - win, win) if rms_dbfs(raw[i:i + win]) > -40) * 0.025
    assert loud > 0.7, f"only {loud:.2f} s audible at voice_out.monitor ({len(raw)} bytes recorded); screen:\n{screen}"
