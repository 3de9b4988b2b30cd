"""Issue 12: every session knob (flag and config file → setup JSON, bad values → exit 64), the
google-genai SDK sending all of them to `livetalk serve`, Google Search citations in both faces
and the transcript, and thoughts shown apart from the reply."""
import asyncio
import json
import shutil

import pytest
from google.genai import types

from test_cli import SECRET, run
from test_sdk import MODEL, client
from helpers import Tmux, pane_text


def setup_json(tmp_path, *flags, env=None):
    p = run(["info", "--setup", *flags], home=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["setup"]


def field(obj, path):
    for key in path.split("."):
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    return obj


# (flags, path in the setup, value sent)
KNOBS = [
    (["--vad-start-sensitivity", "low"], "realtimeInputConfig.automaticActivityDetection.startOfSpeechSensitivity", "START_SENSITIVITY_LOW"),
    (["--vad-end-sensitivity", "high"], "realtimeInputConfig.automaticActivityDetection.endOfSpeechSensitivity", "END_SENSITIVITY_HIGH"),
    (["--vad-prefix-padding-ms", "120"], "realtimeInputConfig.automaticActivityDetection.prefixPaddingMs", 120),
    (["--vad-silence-ms", "700"], "realtimeInputConfig.automaticActivityDetection.silenceDurationMs", 700),
    (["--barge-in", "off"], "realtimeInputConfig.activityHandling", "NO_INTERRUPTION"),
    (["--barge-in", "on"], "realtimeInputConfig.activityHandling", "START_OF_ACTIVITY_INTERRUPTS"),
    (["--turn-coverage", "all-input"], "realtimeInputConfig.turnCoverage", "TURN_INCLUDES_ALL_INPUT"),
    (["--compression-trigger-tokens", "25600"], "contextWindowCompression.triggerTokens", 25600),
    (["--compression-target-tokens", "12800"], "contextWindowCompression.slidingWindow.targetTokens", 12800),
    (["--affective-dialog", "on"], "generationConfig.enableAffectiveDialog", True),
    (["--proactive-audio", "on"], "proactivity.proactiveAudio", True),
    (["--thinking-level", "low"], "generationConfig.thinkingConfig.thinkingLevel", "LOW"),
    (["--thinking-budget", "1024"], "generationConfig.thinkingConfig.thinkingBudget", 1024),
    (["--include-thoughts", "on"], "generationConfig.thinkingConfig.includeThoughts", True),
    (["--input-language", "en-US,de-DE"], "inputAudioTranscription.languageCodes", ["en-US", "de-DE"]),
    (["--output-language", "fr-FR"], "outputAudioTranscription.languageCodes", ["fr-FR"]),
    (["--speech-language", "en-GB"], "generationConfig.speechConfig.languageCode", "en-GB"),
    (["--media-resolution", "low"], "generationConfig.mediaResolution", "MEDIA_RESOLUTION_LOW"),
    (["--temperature", "0.7"], "generationConfig.temperature", 0.7),
    (["--top-p", "0.95"], "generationConfig.topP", 0.95),
    (["--top-k", "40"], "generationConfig.topK", 40),
    (["--max-output-tokens", "1024"], "generationConfig.maxOutputTokens", 1024),
    (["--seed", "7"], "generationConfig.seed", 7),
    (["--presence-penalty", "0.5"], "generationConfig.presencePenalty", 0.5),
    (["--frequency-penalty", "-0.5"], "generationConfig.frequencyPenalty", -0.5),
    (["--search"], "tools.0.googleSearch", {}),
]


@pytest.mark.parametrize("flags,path,value", KNOBS, ids=[" ".join(k[0]) for k in KNOBS])
def test_each_knob_reaches_the_setup(tmp_path, flags, path, value):
    assert field(setup_json(tmp_path, *flags), path) == value


def test_defaults_compression_on_and_nothing_else_set(tmp_path):
    s = setup_json(tmp_path)
    assert s["contextWindowCompression"] == {"slidingWindow": {}}
    assert "realtimeInputConfig" not in s and "proactivity" not in s
    g = s["generationConfig"]
    assert g["responseModalities"] == ["AUDIO"] and "thinkingConfig" not in g and "temperature" not in g
    assert s["sessionResumption"] == {}
    assert [d["name"] for t in s["tools"] for d in t.get("functionDeclarations", [])]   # the built-in tools
    assert not any("googleSearch" in t for t in s["tools"])
    assert "contextWindowCompression" not in setup_json(tmp_path, "--compression", "off")


def test_push_to_talk_keeps_barge_in_setting(tmp_path):
    s = setup_json(tmp_path, "--ptt", "--barge-in", "off", "--vad-silence-ms", "500")
    assert s["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}, "activityHandling": "NO_INTERRUPTION"}


BAD = [
    ("--vad-start-sensitivity", "medium"), ("--vad-end-sensitivity", "x"), ("--vad-prefix-padding-ms", "-1"),
    ("--vad-silence-ms", "ten"), ("--barge-in", "maybe"), ("--turn-coverage", "everything"), ("--compression", "2"),
    ("--compression-trigger-tokens", "5"), ("--compression-target-tokens", "1e9"), ("--affective-dialog", "yesno"),
    ("--proactive-audio", "loud"), ("--thinking-level", "huge"), ("--thinking-budget", "99999"),
    ("--include-thoughts", "all"), ("--input-language", "english!"), ("--output-language", ""),
    ("--speech-language", "en-US,de-DE"), ("--media-resolution", "4k"), ("--temperature", "3"), ("--top-p", "nan"),
    ("--top-k", "0"), ("--max-output-tokens", "0"), ("--seed", "99999999999"), ("--presence-penalty", "-3"),
    ("--frequency-penalty", "inf"),
]


@pytest.mark.parametrize("flag,value", BAD, ids=[f"{f}={v}" for f, v in BAD])
def test_bad_value_is_exit_64_naming_the_flag(tmp_path, flag, value):
    for args in (["info", "--setup", flag, value], ["--no-tui", flag, value]):
        p = run(args, home=tmp_path)
        assert p.returncode == 64, (args, p.stdout, p.stderr)
        assert flag in p.stderr and "use " in p.stderr, p.stderr
        assert "Traceback" not in p.stderr and p.stdout == ""


def test_conflicting_knobs_are_named(tmp_path):
    p = run(["info", "--setup", "--thinking-level", "low", "--thinking-budget", "10"], home=tmp_path)
    assert p.returncode == 64 and "--thinking-level" in p.stderr and "not both" in p.stderr, p.stderr
    p = run(["info", "--setup", "--compression-trigger-tokens", "2000", "--compression-target-tokens", "4000"], home=tmp_path)
    assert p.returncode == 64 and "--compression-target-tokens" in p.stderr, p.stderr


def write_config(tmp_path, text):
    d = tmp_path / "config" / "livetalk"
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.toml").write_text(text)
    return d / "config.toml"


def test_config_file_knobs_and_flags_win(tmp_path):
    write_config(tmp_path, 'model = "m"\nsearch = true\ntemperature = 0.25\nvad_silence_ms = 800\n'
                           'input_language = ["en-US", "de-DE"]\nbarge_in = false\nthinking_level = "high"\n')
    s = setup_json(tmp_path)
    assert s["tools"][0] == {"googleSearch": {}}
    assert s["generationConfig"]["temperature"] == 0.25
    assert s["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "HIGH"}
    assert s["realtimeInputConfig"]["automaticActivityDetection"] == {"silenceDurationMs": 800}
    assert s["realtimeInputConfig"]["activityHandling"] == "NO_INTERRUPTION"
    assert s["inputAudioTranscription"] == {"languageCodes": ["en-US", "de-DE"]}
    assert setup_json(tmp_path, "--temperature", "1.5")["generationConfig"]["temperature"] == 1.5


@pytest.mark.parametrize("text,line,key", [
    ('model = "m"\ntemperature = 9\n', 2, "temperature"),
    ('\n\nvad_start_sensitivity = "medium"\n', 3, "vad_start_sensitivity"),
    ('top_k = "many"\n', 1, "top_k"),
    ('search = "perhaps"\n', 1, "search"),
    ('thinking_level = "low"\nthinking_budget = 5\n', 1, "thinking_level"),
])
def test_bad_config_value_names_file_and_line(tmp_path, text, line, key):
    path = write_config(tmp_path, text)
    for args in (["info", "--setup"], ["--no-tui"]):
        p = run(args, home=tmp_path)
        assert p.returncode == 64, (args, p.stderr)
        assert f"{path}:{line}" in p.stderr and key in p.stderr, p.stderr


def test_info_setup_redacts_secrets(tmp_path):
    s = run(["info", "--setup", "--system", f"remember {SECRET}"], home=tmp_path, env={"GEMINI_API_KEY": SECRET})
    assert s.returncode == 0, s.stderr
    assert SECRET not in s.stdout + s.stderr
    assert json.loads(s.stdout)["setup"]["systemInstruction"]["parts"][0]["text"] == "remember [REDACTED]"


# The SDK, with every knob set, against `livetalk serve`.

@pytest.fixture
def tls_server(serve_factory, certs):
    return serve_factory(tls=certs)


def every_knob_config(modality):
    return types.LiveConnectConfig(
        response_modalities=[modality],
        temperature=0.7, top_p=0.95, top_k=40, max_output_tokens=1024, seed=7,
        media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW,
        speech_config=types.SpeechConfig(language_code="en-US", voice_config=types.VoiceConfig(
            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore"))) if modality == "AUDIO" else None,
        # TEXT asks for a thinking level (Gemini 3.x), AUDIO for a budget (2.5): both are accepted.
        thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW, include_thoughts=True) if modality == "TEXT"
        else types.ThinkingConfig(thinking_budget=512, include_thoughts=True),
        enable_affective_dialog=True,
        tools=[types.Tool(google_search=types.GoogleSearch())],
        input_audio_transcription=types.AudioTranscriptionConfig(language_codes=["en-US"]),
        output_audio_transcription=types.AudioTranscriptionConfig(language_codes=["en-US"]) if modality == "AUDIO" else None,
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                start_of_speech_sensitivity=types.StartSensitivity.START_SENSITIVITY_LOW,
                end_of_speech_sensitivity=types.EndSensitivity.END_SENSITIVITY_HIGH,
                prefix_padding_ms=100, silence_duration_ms=600),
            activity_handling=types.ActivityHandling.NO_INTERRUPTION,
            turn_coverage=types.TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=25600, sliding_window=types.SlidingWindow(target_tokens=12800)),
        proactivity=types.ProactivityConfig(proactive_audio=True),
        session_resumption=types.SessionResumptionConfig(),
    )


async def sdk_turn(session, text):
    out = {"thoughts": "", "text": "", "output": "", "grounding": [], "audio": 0}
    await session.send_realtime_input(text=text)
    async for msg in session.receive():
        sc = msg.server_content
        if not sc:
            continue
        for part in (sc.model_turn.parts if sc.model_turn and sc.model_turn.parts else []):
            if part.thought:
                out["thoughts"] += part.text or ""
            elif part.text:
                out["text"] += part.text
            elif part.inline_data:
                out["audio"] += len(part.inline_data.data)
        if sc.output_transcription and sc.output_transcription.text:
            out["output"] += sc.output_transcription.text
        if sc.grounding_metadata:
            out["grounding"].append(sc.grounding_metadata)
    return out


@pytest.mark.parametrize("modality", ["TEXT", "AUDIO"])
def test_sdk_setup_with_every_knob_is_accepted(tls_server, certs, modality):
    async def go():
        c = client(tls_server, certs)
        async with c.aio.live.connect(model=MODEL, config=every_knob_config(modality)) as s:
            first = await sdk_turn(s, "hello")
            second = await sdk_turn(s, "search for the moon")
            return first, second
    first, second = asyncio.run(go())
    reply = "text" if modality == "TEXT" else "output"
    assert first[reply].strip() == "Hello! I am the offline emulator. How can I help?"
    assert first["thoughts"].startswith("Thinking:") and "Thinking" not in first[reply]   # a thought part, apart
    assert "only natural satellite of the Earth" in second[reply]
    chunks = [ch.web for g in second["grounding"] for ch in (g.grounding_chunks or [])]
    assert chunks and all(w.uri.startswith("https://example.org/") and w.domain == "example.org" for w in chunks)
    assert "offline example" in chunks[0].title
    assert second["grounding"][0].web_search_queries == ["the moon"]
    if modality == "AUDIO":
        assert first["audio"] > 0


# Citations in both faces and the transcript.

def test_citations_in_line_mode_and_transcript(tmp_path):
    t = tmp_path / "t.jsonl"
    p = run(["--no-tui", "--search", "--transcript", str(t)], stdin="search for swift concurrency\nhello\n", home=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    i = next(n for n, l in enumerate(lines) if l.startswith("model> From the offline example index"))
    assert lines[i + 1] == "  [1] Swift concurrency (offline example) — example.org"
    assert lines[i + 2] == "  [2] Swift programming language (offline example) — example.org"
    assert not lines[i + 3].startswith("  [")
    assert "model> Hello! I am the offline emulator. How can I help?" in lines   # later turns carry no sources
    turns = [json.loads(l) for l in t.read_text().splitlines() if json.loads(l)["kind"] == "turn"]
    cited = [x for x in turns if x.get("citations")]
    assert len(cited) == 1
    assert cited[0]["citations"][0] == {"n": 1, "title": "Swift concurrency (offline example)", "domain": "example.org",
                                        "uri": "https://example.org/offline-search/swift-concurrency"}


def test_without_search_nothing_is_cited(tmp_path):
    p = run(["--no-tui"], stdin="search for swift\n", home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "model> I heard: search for swift" in p.stdout and "[1]" not in p.stdout


def test_thoughts_in_line_mode_are_tagged_and_not_the_reply(tmp_path):
    t = tmp_path / "t.jsonl"
    p = run(["--no-tui", "--include-thoughts", "on", "--transcript", str(t)], stdin="hello\n", home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert '[thought] Thinking: the user said "hello"' in p.stdout
    assert "model> Hello! I am the offline emulator. How can I help?" in p.stdout
    kinds = [json.loads(l)["kind"] for l in t.read_text().splitlines()]
    assert "thought" in kinds


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)")
def test_citations_and_thoughts_on_screen(tmp_path):
    t = Tmux(tmp_path, args="--search --include-thoughts on")
    try:
        t.wait_for("● CONNECTED")
        t.type("search for penguins")
        t.wait_for("[1] Penguins (offline example) — example.org")
        model = pane_text(t.capture(), "2 Model")
        assert "flightless birds" in model
        assert "(thinking) Thinking: the user said" in model
        t.keys("q")
        t.wait_for("EXIT=0")
    finally:
        t.close()
