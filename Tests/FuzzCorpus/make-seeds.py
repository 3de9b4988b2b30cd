#!/usr/bin/env python3
"""Writes the fuzz seed corpus into Tests/FuzzCorpus/seeds/<target>/ (committed).

Run from anywhere: python3 Tests/FuzzCorpus/make-seeds.py. Reads the protocol fixtures in
Tests/LiveProtocolTests/Fixtures and the themes in themes/ (both in this repository), and
writes small hand-made WAV, config and key inputs. Seeds are inputs, not expectations: each
must simply run without trapping (FuzzRegressionTests replays them).
"""
import json, os, re, shutil, struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Tests/LiveProtocolTests/Fixtures"
OUT = Path(__file__).resolve().parent / "seeds"
SEP = b"\x00"      # SessionFuzz: message separator
BIN = b"\x01"      # SessionFuzz: first byte of a binary-frame message
QUIET = b"\xff"    # KeysFuzz: a quiet moment (flush)


def reset(target):
    d = OUT / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def put(d, name, data):
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def fill_base64(obj):
    """The transcripts abbreviate payloads as '<N base64 chars>': put short real base64 back."""
    if isinstance(obj, dict):
        return {k: fill_base64(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [fill_base64(v) for v in obj]
    if isinstance(obj, str) and re.fullmatch(r"<\d+ base64 chars>", obj):
        return "AAABAAIAAwAEAAUABgAHAAgACQAKAAsADAANAA4ADwA="
    return obj


def transcript(name, direction):
    msgs = []
    for line in (FIX / name).read_text().splitlines():
        o = json.loads(line)
        if o.get("dir") == direction and "json" in o:
            msgs.append((o.get("opcode"), fill_base64(o["json"])))
    return msgs


# ── session: server messages (one per file, and whole conversations joined by 0x00) ──
d = reset("session")
for f in sorted(FIX.glob("server_*.json")):
    put(d, f.stem, compact(json.loads(f.read_text())))
for t in ["transcript_sdk_main_session.jsonl", "transcript_sdk_resumed_session.jsonl"]:
    msgs = transcript(t, "s2c")
    put(d, Path(t).stem, SEP.join((BIN if op == "binary" else b"") + compact(m) for op, m in msgs))
put(d, "goaway_then_turn", SEP.join([
    compact({"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}}),
    compact({"goAway": {"timeLeft": "0.5s"}}),
    compact({"serverContent": {"interrupted": True}}),
    compact({"serverContent": {"turnComplete": True}}),
    compact({"sessionResumptionUpdate": {"newHandle": "h-2", "resumable": True, "lastConsumedClientMessageIndex": "1"}}),
]))
put(d, "tool_calls", SEP.join([
    compact({"toolCall": {"functionCalls": [{"id": "a", "name": "get_current_time", "args": {}},
                                            {"id": "b", "name": "start_timer", "args": {"seconds": 0}},
                                            {"id": "c", "name": "nope"}]}}),
    compact({"toolCallCancellation": {"ids": ["b", "zz"]}}),
]))
put(d, "not_json", b"{\"serverContent\":" + SEP + BIN + b"\xff\xfe" + SEP + b"[]")

# ── client-message: what clients send, as the emulator reads it ──
d = reset("client-message")
for f in sorted(FIX.glob("client_*.json")):
    put(d, f.stem, compact(json.loads(f.read_text())))
for t in ["transcript_sdk_main_session.jsonl", "transcript_sdk_resumed_session.jsonl"]:
    for i, (_, m) in enumerate(transcript(t, "c2s")):
        put(d, f"{Path(t).stem}_{i:02d}", compact(m))
put(d, "snake_url_base64", b'{"realtime_input":{"audio":{"data":"AAAB-_8","mime_type":"audio/pcm;rate=16000"}}}')

# ── wav: hand-made 16-bit PCM files and near misses ──
def wav(rate=16000, channels=1, samples=(0, 1000, -1000, 32767, -32768, 5), tag=1, bits=16,
        extra=b"", data_size=None, fmt_size=16):
    pcm = b"".join(struct.pack("<h", s) for s in samples)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * 2, channels * 2, bits)
    fmt += b"\x00" * (fmt_size - 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt + extra
    body += b"data" + struct.pack("<I", len(pcm) if data_size is None else data_size) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body

d = reset("wav")
put(d, "mono_16k", wav())
put(d, "mono_24k", wav(rate=24000))
put(d, "stereo_44k1", wav(rate=44100, channels=2, samples=(1, 2, 3, 4, -5, -6, 7, 8)))
put(d, "extensible_48k", wav(rate=48000, tag=0xFFFE, fmt_size=40))
put(d, "list_chunk_odd", wav(extra=b"LIST" + struct.pack("<I", 3) + b"abc\x00"))
put(d, "data_size_lies", wav(data_size=0xFFFFFFF0))
put(d, "eight_bit", wav(bits=8))
put(d, "float", wav(tag=3, bits=32))
put(d, "truncated", wav()[:30])
put(d, "data_before_fmt", b"RIFF\x10\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x00")

# ── config: config.toml ──
d = reset("config")
put(d, "readme", '''model = "gemini-2.5-flash-native-audio-preview-12-2025"
voice = "Puck"
api_version = "v1beta"
mode = "vad"            # or "ptt"
# endpoint = "ws://127.0.0.1:8765"
# api_key = "…"         # prefer GEMINI_API_KEY
[vertex]
project = "my-project"
location = "us-central1"
''')
put(d, "every_key", '''api_key = "k"
model = "m"
voice = "Kore"
api_version = "v1alpha"
endpoint = "wss://127.0.0.1:8765"
system = """You are
terse."""
mode = "ptt"
theme = "light"
ca_file = "/tmp/ca.pem"
log_file = '/tmp/l.log'
log_level = "debug"
[vertex]
project = "p"
location = "europe-west4"
access_token = "t"
''')
put(d, "bad_type", 'model = 3\n')
put(d, "unknown_key", 'colour = "red"\n')
put(d, "bad_mode", 'mode = "loud"\n')
put(d, "vertex_not_table", 'vertex = "x"\n')
put(d, "unknown_vertex_key", '[vertex]\nregion = "x"\n')
put(d, "syntax_error", 'model = "unterminated\n')
put(d, "inline_and_arrays", 'vertex = { project = "p" }\nx = [1, [2, 3], { a = 1979-05-27T07:32:00Z }]\n')

# ── theme: themes/*.toml and near misses ──
d = reset("theme")
for f in sorted((ROOT / "themes").glob("*.toml")):
    put(d, f.stem, f.read_bytes())
put(d, "unknown_role", 'name = "x"\n[roles]\nnot_a_role = { fg = "red" }\n')
put(d, "bad_colour", '[roles]\ntext = { fg = "#12345", bg = 300 }\n')
put(d, "missing_roles", '[roles]\ntext = { fg = 7, bold = true, dim = false, reverse = true, underline = false }\n')
put(d, "no_roles", 'name = "x"\nascii = true\n')

# ── keys: terminal input (0xFF = a quiet moment, then flush) ──
d = reset("keys")
E = b"\x1b"
put(d, "text_utf8", "héllo wörld ✓ 日本 😀\r".encode())
put(d, "arrows_csi_ss3", E + b"[A" + E + b"[B" + E + b"OC" + E + b"OD" + E + b"[H" + E + b"[F" + E + b"[Z")
put(d, "tilde_keys", E + b"[5~" + E + b"[6~" + E + b"[3~" + E + b"[1~" + E + b"[4~" + E + b"[7~" + E + b"[8~" + E + b"[1;5~")
put(d, "kitty", E + b"[97u" + E + b"[97;5u" + E + b"[97;1:3u" + E + b"[13u" + E + b"[27u" + E + b"[9;1u" + E + b"[127u" + E + b"[1114112u")
put(d, "ctrl_and_controls", bytes(range(0, 32)) + b"\x7f\x08")
put(d, "lone_escape_flush", E + QUIET + E + b"[" + QUIET + E + b"O" + QUIET + b"q")
put(d, "escape_then_text", E + b"x" + E + E + b"[[A" + E + b"[1;2")
print("seeds written to", OUT)

# ── dictionaries: words worth splicing in (libFuzzer -dict) ──
DICTS = Path(__file__).resolve().parent / "dicts"
DICTS.mkdir(exist_ok=True)

def keys_of(obj, acc):
    if isinstance(obj, dict):
        for k, v in obj.items():
            acc.add(k)
            keys_of(v, acc)
    elif isinstance(obj, list):
        for v in obj:
            keys_of(v, acc)

words = set()
for f in FIX.glob("*.json"):
    keys_of(json.loads(f.read_text()), words)
for t in ["transcript_sdk_main_session.jsonl", "transcript_sdk_resumed_session.jsonl"]:
    for line in (FIX / t).read_text().splitlines():
        keys_of(json.loads(line).get("json"), words)
def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')
lines = [f'"\\"{esc(k)}\\":"' for k in sorted(words)]
lines += [f'"{w}"' for w in ["true", "false", "null", "{}", "[]", "1e400", "-0", "1.5s", "1e300s",
                             "\\\\u0000", "\\\\ud800", "audio/pcm;rate=24000", "\\x00", "\\x01"]]
(DICTS / "json.dict").write_text("# JSON keys of the protocol fixtures, and a few awkward values.\n" + "\n".join(lines) + "\n")

toml = ["model", "voice", "api_version", "endpoint", "system", "mode", "theme", "ca_file", "log_file",
        "log_level", "api_key", "[vertex]", "project", "location", "access_token", "name", "ascii", "[roles]",
        "fg", "bg", "bold", "dim", "reverse", "underline", "text", "border", "status_bar", "\\\"vad\\\"",
        "\\\"ptt\\\"", "\\\"#ff00ff\\\"", "255", "true", "false", " = ", "{ ", " }", "[[", "]]", "\\\"\\\"\\\"",
        "'''", "1979-05-27T07:32:00Z", "inf", "nan", "0x7fffffffffffffff", "\\\\u0000"]
(DICTS / "toml.dict").write_text("# TOML syntax and the keys of config.toml and themes.\n"
                                 + "\n".join(f'"{w}"' for w in toml) + "\n")
print("dictionaries written to", DICTS)
