"""livetalk as a user runs it: line mode, files, exit codes, and clear errors for bad input."""
import json
import math
import os
import struct
import subprocess
import wave

from conftest import binary

SECRET = "sk-test-SECRET-never-shown-12345"


def run(args, stdin="", env=None, timeout=120, home=None):
    e = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    if home:
        e["HOME"] = str(home)
        e["XDG_CONFIG_HOME"] = str(home / "config")
        e["XDG_STATE_HOME"] = str(home / "state")
    e.update(env or {})
    return subprocess.run([binary(), *args], input=stdin, capture_output=True, text=True, env=e, timeout=timeout)


def test_line_mode_conversation_on_embedded_emulator(tmp_path):
    p = run(["--no-tui", "--transcript", str(tmp_path / "t.jsonl")],
            stdin="hello\nmy name is Ada\nwhat is my name\nplease get current time\n", home=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "no API key set" in p.stderr
    assert "[state] CONNECTED (emulator)" in out
    assert "you> my name is Ada" in out
    assert "model> Your name is Ada." in out
    assert "[tool] get_current_time running" in out and "[tool] get_current_time done" in out
    assert out.rstrip().endswith("[state] CLOSED")
    kinds = [json.loads(l)["kind"] for l in (tmp_path / "t.jsonl").read_text().splitlines()]
    for k in ("state", "setup_complete", "turn", "audio", "tool", "turn_complete", "usage", "ended"):
        assert k in kinds, k


def test_non_blocking_tool_result_arrives_before_exit(tmp_path):
    p = run(["--no-tui"], stdin="start timer seconds=1\n", home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "[tool] start_timer running (background)" in p.stdout
    assert "model> The start_timer result: rang_after_seconds 1." in p.stdout


def tone_wav(path, seconds=1.0, rate=22050, lead=0.3, tail=0.8):
    frames = b"".join(struct.pack("<h", 0) for _ in range(int(lead * rate)))
    frames += b"".join(struct.pack("<h", int(9000 * math.sin(2 * math.pi * 300 * i / rate))) for i in range(int(seconds * rate)))
    frames += b"".join(struct.pack("<h", 0) for _ in range(int(tail * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_input_wav_as_microphone_and_output_wav(tmp_path):
    tone_wav(tmp_path / "in.wav")
    p = run(["--no-tui", "--input-wav", str(tmp_path / "in.wav"), "--output-wav", str(tmp_path / "out.wav")], home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "you> [speech 1.0 s]" in p.stdout
    assert "model> I heard 1.0 s of speech." in p.stdout
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert w.getframerate() == 24000
        assert w.getnframes() > 24000  # the reply is over a second of audio


def test_push_to_talk_with_input_wav(tmp_path):
    tone_wav(tmp_path / "in.wav", lead=0, tail=0)
    p = run(["--no-tui", "--ptt", "--input-wav", str(tmp_path / "in.wav")], home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "model> I heard 1.0 s of speech." in p.stdout


def test_bad_endpoint_is_a_usage_error(tmp_path):
    for url, word in (("http://example.com", "http://"), ("ws://", "no host"), ("::::", "not a URL")):
        p = run(["--no-tui", "--endpoint", url], home=tmp_path)
        assert p.returncode == 64, (url, p.stderr)
        assert "--endpoint" in p.stderr and word in p.stderr
        assert "Traceback" not in p.stderr and "Fatal error" not in p.stderr


def test_bad_config_file_names_file_and_line(tmp_path):
    cfg = tmp_path / "config" / "livetalk"
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text('model = "gemini-x"\n\nvoice = 3\n')
    p = run(["--no-tui"], home=tmp_path)
    assert p.returncode == 64
    assert f"{cfg}/config.toml:3: voice must be a string" in p.stderr
    (cfg / "config.toml").write_text('model = "gemini-x"\nmodle = "typo"\n')
    p = run(["--no-tui"], home=tmp_path)
    assert p.returncode == 64 and "config.toml:2: unknown key modle" in p.stderr
    (cfg / "config.toml").write_text('model = "unterminated\n')
    p = run(["--no-tui"], home=tmp_path)
    assert p.returncode == 64 and "config.toml:1:" in p.stderr


def test_missing_input_wav_and_bad_wav(tmp_path):
    p = run(["--no-tui", "--input-wav", str(tmp_path / "nope.wav")], home=tmp_path)
    assert p.returncode == 64 and "nope.wav" in p.stderr
    (tmp_path / "bad.wav").write_text("this is not audio")
    p = run(["--no-tui", "--input-wav", str(tmp_path / "bad.wav")], home=tmp_path)
    assert p.returncode == 64 and "bad.wav: not a WAV file" in p.stderr


def test_unreachable_endpoint_fails_clearly(tmp_path):
    p = run(["--no-tui", "--endpoint", "ws://127.0.0.1:9"], stdin="hi\n", home=tmp_path)
    assert p.returncode == 1
    assert "cannot reach 127.0.0.1" in p.stdout
    assert "gave up after" in p.stdout


def test_wrong_key_never_shows_the_key(tmp_path, serve_factory):
    server = serve_factory("--require-key", env={"LIVETALK_SERVE_KEY": "the-right-key"})
    p = run(["--no-tui", "--endpoint", server.ws_url], stdin="hi\n", env={"GEMINI_API_KEY": SECRET}, home=tmp_path)
    assert p.returncode == 1
    assert "refused the API key" in p.stdout
    log = (tmp_path / "state" / "livetalk" / "livetalk.log").read_text()
    for text in (p.stdout, p.stderr, log):
        assert SECRET not in text
    ok = run(["--no-tui", "--endpoint", server.ws_url], stdin="hi\n", env={"GEMINI_API_KEY": "the-right-key"}, home=tmp_path)
    assert ok.returncode == 0 and "model> Hello! I am the offline emulator. How can I help?" in ok.stdout


def test_unknown_model_gives_headline_and_hint(tmp_path, serve_factory):
    server = serve_factory()
    p = run(["--no-tui", "--endpoint", server.ws_url, "--model", "no-such-model"], stdin="hi\n", home=tmp_path)
    assert p.returncode == 1
    assert "model not found for v1beta — try --api-version v1alpha or another --model" in p.stdout


def test_faulty_server_frames_are_survived(tmp_path, serve_factory):
    server = serve_factory("--fault-garbage-frame", "--fault-unknown-message", "--fault-drop-mid-reply", "1")
    p = run(["--no-tui", "--endpoint", server.ws_url], stdin="my name is Ada\nwhat is my name\n", home=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "[warn] ignored a bad message from the server" in p.stdout
    assert "[warn] ignored an unknown server message (futureMessage)" in p.stdout
    assert "CONNECTING (attempt 1)" in p.stdout
    assert "model> Your name is Ada." in p.stdout


def test_serve_help_documents_the_tool_rule():
    p = run(["serve", "--help"])
    assert p.returncode == 0
    assert "underscores read as spaces" in p.stdout and "key=value" in p.stdout


def test_help_documents_exit_codes():
    p = run(["--help"])
    assert "EXIT CODES" in p.stdout and "64" in p.stdout


def test_token_command_against_the_emulator(tmp_path, serve_factory):
    server = serve_factory("--require-key", env={"LIVETALK_SERVE_KEY": "k1"})
    p = run(["token", "--endpoint", server.ws_url, "--uses", "1"], env={"GEMINI_API_KEY": "k1"}, home=tmp_path)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert token.startswith("auth_tokens/")
    c = run(["--no-tui", "--endpoint", server.ws_url], stdin="my name is Eve\n", env={"GEMINI_API_KEY": token}, home=tmp_path)
    assert c.returncode == 0, c.stdout
    assert "model> Nice to meet you, Eve." in c.stdout
