"""The official google-genai SDK (3.6.1, pinned in requirements.txt) as a client of `livetalk serve` (PROTOCOL.md §7, recipe A: wss + a test CA)."""
import asyncio
import math
import ssl
import struct

import pytest
from google import genai
from google.genai import errors, types

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


def client(server, certs, api_key="emulator-key", api_version="v1beta"):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(
        base_url=f"https://{server.host}:{server.port}", api_version=api_version, async_client_args={"ssl": ctx}))


def pcm(seconds, amplitude=0.3, rate=16000):
    n = int(seconds * rate)
    return b"".join(struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * 300 * i / rate))) for i in range(n))


async def collect_turn(session):
    """Everything of one turn, until turn_complete."""
    out = {"text": "", "audio": 0, "input": "", "output": "", "interrupted": False, "tool_calls": [], "handles": []}
    async for msg in session.receive():
        if msg.session_resumption_update and msg.session_resumption_update.new_handle:
            out["handles"].append(msg.session_resumption_update.new_handle)
        if msg.tool_call:
            out["tool_calls"].extend(msg.tool_call.function_calls)
            return out
        sc = msg.server_content
        if not sc:
            continue
        if msg.text:
            out["text"] += msg.text
        if msg.data:
            out["audio"] += len(msg.data)
        if sc.input_transcription and sc.input_transcription.text:
            out["input"] += sc.input_transcription.text
        if sc.output_transcription and sc.output_transcription.text:
            out["output"] += sc.output_transcription.text
        if sc.interrupted:
            out["interrupted"] = True
    return out


@pytest.fixture
def tls_server(serve_factory, certs):
    return serve_factory(tls=certs)


def test_text_turn(tls_server, certs):
    async def go():
        c = client(tls_server, certs)
        async with c.aio.live.connect(model=MODEL, config=types.LiveConnectConfig(response_modalities=["TEXT"])) as s:
            await s.send_realtime_input(text="hello from the sdk")
            return await collect_turn(s)
    out = asyncio.run(go())
    assert out["text"] == "Hello! I am the offline emulator. How can I help?"


def test_audio_turn_with_server_vad(tls_server, certs):
    async def go():
        c = client(tls_server, certs)
        cfg = types.LiveConnectConfig(response_modalities=["AUDIO"],
                                      input_audio_transcription=types.AudioTranscriptionConfig(),
                                      output_audio_transcription=types.AudioTranscriptionConfig())
        async with c.aio.live.connect(model=MODEL, config=cfg) as s:
            audio = pcm(0.2, 0) + pcm(1.0) + pcm(0.8, 0)
            for i in range(0, len(audio), 640):
                await s.send_realtime_input(audio=types.Blob(data=audio[i:i + 640], mime_type="audio/pcm;rate=16000"))
            return await collect_turn(s)
    out = asyncio.run(go())
    assert out["input"] == "[speech 1.0 s]"
    assert out["output"] == "I heard 1.0 s of speech."
    assert out["audio"] > 24000  # at least half a second of 24 kHz PCM16


def espeak_pcm16k(text):
    """16 kHz PCM16 of espeak-ng saying `text` (22.05 kHz WAV, resampled linearly here)."""
    import subprocess, tempfile, wave
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "160", "-w", f.name, text], check=True)
        with wave.open(f.name) as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
    src = struct.unpack(f"<{len(raw) // 2}h", raw)
    n = int(len(src) * 16000 / rate)
    out = []
    for i in range(n):
        x = i * rate / 16000
        j = int(x)
        a, b = src[min(j, len(src) - 1)], src[min(j + 1, len(src) - 1)]
        out.append(int(a + (b - a) * (x - j)))
    return struct.pack(f"<{n}h", *out)


def test_spoken_question_gets_transcribed_and_answered(tls_server, certs):
    """Real words both ways: the emulator transcribes the SDK's audio and speaks its answer."""
    async def go():
        c = client(tls_server, certs)
        cfg = types.LiveConnectConfig(response_modalities=["AUDIO"],
                                      speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(
                                          prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore"))),
                                      input_audio_transcription=types.AudioTranscriptionConfig(),
                                      output_audio_transcription=types.AudioTranscriptionConfig())
        async with c.aio.live.connect(model=MODEL, config=cfg) as s:
            audio = pcm(0.3, 0) + espeak_pcm16k("what can you do") + pcm(0.8, 0)
            for i in range(0, len(audio), 640):
                await s.send_realtime_input(audio=types.Blob(data=audio[i:i + 640], mime_type="audio/pcm;rate=16000"))
            return await collect_turn(s)
    out = asyncio.run(go())
    assert out["input"] == "what can you do"
    assert out["output"].startswith("You can say hello, ask what time it is")
    assert out["audio"] > 24000 * 2 * 3   # several seconds of speech


def test_tool_call_round_trip(tls_server, certs):
    async def go():
        c = client(tls_server, certs)
        tools = [types.Tool(function_declarations=[types.FunctionDeclaration(
            name="get_weather", description="weather for a city",
            parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}))])]
        cfg = types.LiveConnectConfig(response_modalities=["TEXT"], tools=tools)
        async with c.aio.live.connect(model=MODEL, config=cfg) as s:
            await s.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="get weather city=Paris")]),
                                        turn_complete=True)
            first = await collect_turn(s)
            call = first["tool_calls"][0]
            await s.send_tool_response(function_responses=[types.FunctionResponse(
                id=call.id, name=call.name, response={"temperature_c": 21, "sky": "clear"})])
            second = await collect_turn(s)
            return call, second
    call, second = asyncio.run(go())
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    assert second["text"] == "The get_weather result: sky clear, temperature_c 21."


def test_interruption(tls_server, certs):
    async def go():
        c = client(tls_server, certs)
        cfg = types.LiveConnectConfig(response_modalities=["AUDIO"])
        async with c.aio.live.connect(model=MODEL, config=cfg) as s:
            await s.send_realtime_input(text="please tell me a long story about ships and the sea and the stars")
            async for msg in s.receive():
                if msg.data:
                    break
            await s.send_realtime_input(text="stop")
            cut = await collect_turn(s)
            reply = await collect_turn(s)
            return cut, reply
    cut, reply = asyncio.run(go())
    assert cut["interrupted"] is True
    assert reply["audio"] > 0 and not reply["interrupted"]


def test_resumption_keeps_context(tls_server, certs):
    async def go():
        c = client(tls_server, certs)
        cfg = types.LiveConnectConfig(response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig())
        async with c.aio.live.connect(model=MODEL, config=cfg) as s:
            await s.send_realtime_input(text="my name is Ada")
            first = await collect_turn(s)
            # The handle issued after the turn arrives right after turnComplete.
            async for msg in s.receive():
                if msg.session_resumption_update and msg.session_resumption_update.resumable:
                    handle = msg.session_resumption_update.new_handle
                    break
        cfg2 = types.LiveConnectConfig(response_modalities=["TEXT"],
                                       session_resumption=types.SessionResumptionConfig(handle=handle))
        async with c.aio.live.connect(model=MODEL, config=cfg2) as s:
            await s.send_realtime_input(text="what is my name")
            second = await collect_turn(s)
        return first, second
    first, second = asyncio.run(go())
    assert first["text"] == "Nice to meet you, Ada."
    assert second["text"] == "Your name is Ada."


def test_unknown_handle_is_1008(tls_server, certs):
    async def go():
        c = client(tls_server, certs)
        cfg = types.LiveConnectConfig(response_modalities=["TEXT"],
                                      session_resumption=types.SessionResumptionConfig(handle="no-such-handle"))
        async with c.aio.live.connect(model=MODEL, config=cfg) as s:
            await s.send_realtime_input(text="hi")
    with pytest.raises(errors.APIError) as e:
        asyncio.run(go())
    assert e.value.code == 1008
    assert "session not found" in str(e.value)


def test_wrong_key_is_1008(serve_factory, certs):
    server = serve_factory("--require-key", tls=certs, env={"LIVETALK_SERVE_KEY": "right-key"})
    async def go(key):
        c = client(server, certs, api_key=key)
        async with c.aio.live.connect(model=MODEL, config=types.LiveConnectConfig(response_modalities=["TEXT"])) as s:
            await s.send_realtime_input(text="hi")
            return await collect_turn(s)
    with pytest.raises(errors.APIError) as e:
        asyncio.run(go("wrong-key"))
    assert e.value.code == 1008
    assert "API key not valid" in str(e.value)
    assert asyncio.run(go("right-key"))["text"] == "Hello! I am the offline emulator. How can I help?"


def test_ephemeral_token(serve_factory, certs, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))  # the REST client (httpx) reads this (PROTOCOL.md §7 recipe A′)
    server = serve_factory("--require-key", tls=certs, env={"LIVETALK_SERVE_KEY": "right-key"})
    async def go():
        c = client(server, certs, api_key="right-key", api_version="v1alpha")
        token = await c.aio.auth_tokens.create(config=types.CreateAuthTokenConfig(uses=1))
        t = client(server, certs, api_key=token.name, api_version="v1alpha")
        async with t.aio.live.connect(model=MODEL, config=types.LiveConnectConfig(response_modalities=["TEXT"])) as s:
            await s.send_realtime_input(text="my name is Tok")
            first = await collect_turn(s)
        # The token had one use: a second new session is refused.
        try:
            async with t.aio.live.connect(model=MODEL, config=types.LiveConnectConfig(response_modalities=["TEXT"])) as s:
                await s.send_realtime_input(text="again")
                await collect_turn(s)
            second = None
        except errors.APIError as e:
            second = e.code
        return token.name, first, second
    name, first, second = asyncio.run(go())
    assert name.startswith("auth_tokens/")
    assert first["text"] == "Nice to meet you, Tok."
    assert second == 1008
