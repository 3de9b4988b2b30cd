"""Hands-free on laptop speakers (issue 11), as a user would meet it: the test PulseAudio daemon's
speaker is looped back into its microphone (scripts/echo-path: 50 ms later, 6 dB down), so the
microphone hears the model's own voice. With echo cancellation (on by default), a spoken question
gets its whole spoken reply without the model interrupting itself, and the user's voice over a
reply still cuts it and is answered. Real parts only: tmux, the test daemon, espeak-ng, the embedded emulator."""
import os
import shutil
import subprocess
import time

import pytest

from helpers import Tmux, pane_text
from test_voice import spoken_wav

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)"),
    pytest.mark.skipif("PULSE_SERVER" not in os.environ, reason="needs the test PulseAudio daemon (scripts/test)"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (scripts/setup installs it)"),
]

REPLY_START = "You can say hello"
REPLY_END = "name a tool"


def model_text(screen):
    return pane_text(screen, "2 Model")


def test_a_whole_reply_on_speakers_then_a_barge_in_by_voice(tmp_path, echo_path):
    question = tmp_path / "question.wav"
    spoken_wav(question, "what can you do")
    interruption = tmp_path / "interruption.wav"
    spoken_wav(interruption, "what time is it")
    t = Tmux(tmp_path, width=120, height=40, args="--mic mic_feed.monitor --speaker voice_out")
    try:
        t.wait_for("● CONNECTED")
        t.wait_for("echo:")   # the session pane says echo cancellation runs
        time.sleep(0.5)       # the microphone stream is open
        subprocess.run(["paplay", "-d", "mic_feed", str(question)], check=True)
        t.wait_for(REPLY_START, timeout=60)
        # About 8 s of speech, heard by the microphone all along: it must play to its end.
        t.wait_until(lambda s: REPLY_END in model_text(s) and "▍" not in s, "the whole reply, spoken to its end",
                     timeout=90)
        time.sleep(1.0)       # a late self-interruption would show now
        screen = t.capture()
        model = model_text(screen)
        assert "[interrupted]" not in model, f"the model interrupted itself on the speakers:\n{screen}"
        assert model.count(REPLY_START) == 1, f"one reply expected (the echo was not taken for a new question):\n{screen}"

        # The same question again; the user speaks over the reply, and the reply is cut.
        subprocess.run(["paplay", "-d", "mic_feed", str(question)], check=True)
        t.wait_until(lambda s: model_text(s).count(REPLY_START) == 2, "the second reply", timeout=60)
        time.sleep(1.0)       # well into the reply
        subprocess.run(["paplay", "-d", "mic_feed", str(interruption)], check=True)
        # The reply is cut, and what the user said over it becomes a turn of its own that is
        # answered. (Whether its words survive the double talk intact is measured, not asserted:
        # livetalk-bench echo, echo.bargein_words_recognised — not yet as good as without echo.)
        screen = t.wait_until(lambda s: "[interrupted]" in model_text(s)
                              and ("It is " in model_text(s) or "I heard" in model_text(s)),
                              "the reply cut and what the user said over it answered", timeout=60)
        you = pane_text(screen, "1 You")
        assert you.count("what can you do") == 2, screen
        assert "[speech" not in you, f"a turn of echo, not words, cut the reply:\n{screen}"
        t.keys("q")
        t.wait_for("EXIT=0")
    finally:
        t.close()
