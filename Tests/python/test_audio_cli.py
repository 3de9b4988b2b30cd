"""livetalk with a real PulseAudio daemon (started by scripts/test): the speaker and the microphone."""
import os
import re
import subprocess
import time
import wave

import pytest

from conftest import binary
from test_cli import run, tone_wav

pytestmark = pytest.mark.skipif("PULSE_SERVER" not in os.environ, reason="needs the test PulseAudio daemon (scripts/test)")


def rms_dbfs(raw: bytes) -> float:
    import math, struct
    n = len(raw) // 2
    if n == 0:
        return -96.0
    s = struct.unpack(f"<{n}h", raw[: n * 2])
    r = math.sqrt(sum(v * v for v in s) / n) / 32768
    return 20 * math.log10(r) if r > 0 else -96.0


def test_reply_is_heard_at_the_speaker_monitor(tmp_path):
    recording = open(tmp_path / "speaker.raw", "wb")   # a file: a pipe would fill after 2 s and stall parec
    rec = subprocess.Popen(["parec", "-d", "voice_out.monitor", "--rate=16000", "--channels=1", "--format=s16le",
                            "--latency-msec=10", "--raw"], stdout=recording)
    try:
        time.sleep(0.3)
        p = run(["--no-tui", "--speaker", "voice_out", "--transcript", str(tmp_path / "t.jsonl")], stdin="hello\n", home=tmp_path)
        time.sleep(0.3)
    finally:
        rec.terminate()
        rec.wait()
        recording.close()
    raw = (tmp_path / "speaker.raw").read_bytes()
    assert p.returncode == 0, p.stderr
    assert "model> Hello! I am the offline emulator. How can I help?" in p.stdout
    # Split into 50 ms windows; the reply (~2.5 s of espeak-ng speech) must be audible in many of them.
    win = 1600
    loud = sum(1 for i in range(0, len(raw) - win, win) if rms_dbfs(raw[i:i + win]) > -40)
    assert loud * 0.05 > 1.0, f"only {loud * 0.05:.2f} s audible"
    # Latency (issue 11): Enter → first byte → first audible sample, in the transcript and on stdout.
    import json
    lat = [json.loads(l) for l in (tmp_path / "t.jsonl").read_text().splitlines() if '"latency"' in l]
    assert len(lat) == 1, lat
    first, audible = lat[0]["latency_first_byte_ms"], lat[0]["latency_audible_ms"]
    assert 0 < first and audible is not None and audible >= first, lat
    assert re.search(r"^\[latency\] turn \d+: first byte \d+ ms, audible \d+ ms$", p.stdout, re.M), p.stdout


def test_microphone_speech_is_heard_by_livetalk(tmp_path):
    tone_wav(tmp_path / "speech.wav", seconds=1.0, lead=0.2, tail=1.0)
    e = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    e.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_STATE_HOME=str(tmp_path / "s"))
    p = subprocess.Popen([binary(), "--no-tui", "--mic", "mic_feed.monitor", "--audio", "pulse"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    lines = []
    try:
        for line in p.stdout:
            lines.append(line.rstrip())
            if line.startswith("[state] CONNECTED"):
                subprocess.run(["paplay", "-d", "mic_feed", str(tmp_path / "speech.wav")], check=True)
            if line.startswith("model> I heard"):
                break
        p.stdin.close()
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    # 1.0 s of tone; with both cores busy the capture may start a chunk or two late (0.9 s).
    heard = [m.group(1) for l in lines if (m := re.fullmatch(r"you> \[speech (0\.9|1\.0|1\.1) s\]", l))]
    assert heard, lines
    assert f"model> I heard {heard[0]} s of speech." in lines, lines
    assert p.returncode == 0


def test_devices_lists_and_marks_defaults():
    p = subprocess.run([binary(), "devices"], capture_output=True, text=True)
    assert p.returncode == 0
    assert "* voice_out  VoiceOut" in p.stdout
    assert "* mic_feed.monitor" in p.stdout


def test_unknown_speaker_is_one_line_and_text_goes_on(tmp_path):
    p = run(["--no-tui", "--speaker", "no_such_sink"], stdin="hello\n", home=tmp_path)
    assert p.returncode == 0
    assert 'no PulseAudio sink named "no_such_sink": see `livetalk devices`; continuing in text' in p.stderr
    assert "model> Hello! I am the offline emulator. How can I help?" in p.stdout


def test_no_server_is_one_line_and_text_goes_on(tmp_path):
    p = run(["--no-tui"], stdin="hello\n", env={"PULSE_SERVER": "unix:/nonexistent/native"}, home=tmp_path)
    assert p.returncode == 0
    assert "no PulseAudio server at unix:/nonexistent/native: start one, or use --audio wav|null; continuing in text" in p.stderr
    assert "model> Hello! I am the offline emulator. How can I help?" in p.stdout
