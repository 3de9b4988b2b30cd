#!/usr/bin/env python3
"""The baseline of `livetalk-bench stream`: the official google-genai SDK (the version pinned in
Tests/python/constraints.txt) doing what `livetalk --no-tui --audio null --input-wav F` does.

It connects to a Live API endpoint (the bench gives `livetalk serve --speech tones` behind its
counting relay), streams F as 16 kHz PCM16 mono in 20 ms `realtimeInput` audio messages paced in
real time (as livetalk's microphone path sends), receives every server message and takes the
reply audio out of it, until stdin is closed. It prints `connected` once the session is set up
(the bench starts its CPU window from there) and, at the end, one JSON line of what it counted.
The bench measures this process's CPU from /proc, like the livetalk client's.

Two transport-level settings differ from a stock client, both because the SDK assumes TLS: the
SDK turns every base URL into wss://, and it always passes an SSL context; here both are kept off
for a ws:// endpoint, so neither client pays for TLS and the relay can count the frames. Every
message still goes through the SDK's own code: pydantic models, converters, json, base64, websockets.

    .venv/bin/python scripts/bench_python_sdk_stream.py --endpoint ws://127.0.0.1:8765 --wav mic.wav
"""
import argparse
import asyncio
import json
import sys
import threading
import time
import wave

from google import genai
from google.genai import _api_client, types

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


def plain_websocket(client):
    """Keep a ws:// base URL as it is (the SDK rewrites every scheme to wss) and pass no SSL context."""
    original = _api_client.BaseApiClient._websocket_base_url

    def base_url(self, http_options=None):
        url = original(self, http_options)
        return "ws://" + url[len("wss://"):] if url.startswith("wss://") else url

    _api_client.BaseApiClient._websocket_base_url = base_url
    client._api_client._websocket_ssl_ctx = {}


def read_pcm16k(path):
    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            sys.exit(f"{path}: need 16 kHz mono PCM16")
        return w.readframes(w.getnframes())


async def run(args):
    pcm = read_pcm16k(args.wav)
    plain = args.endpoint.startswith("ws://")
    base = ("http://" + args.endpoint[len("ws://"):]) if plain else ("https://" + args.endpoint[len("wss://"):])
    client = genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=base, api_version="v1beta"))
    if plain:
        plain_websocket(client)
    # What livetalk's line mode asks for: audio replies, both transcriptions, resumption handles.
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(
            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck"))),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        session_resumption=types.SessionResumptionConfig())
    counts = {"audio_messages_sent": 0, "audio_bytes_sent": 0, "messages_received": 0, "audio_bytes_received": 0,
              "turns": 0, "interrupted": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch_stdin():
        sys.stdin.read()   # the bench closes stdin to end the run
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()

    async with client.aio.live.connect(model=MODEL, config=config) as session:
        print("connected", flush=True)

        async def send():
            step = args.chunk_ms / 1000
            size = 16000 * 2 * args.chunk_ms // 1000
            start = time.monotonic()
            for n, i in enumerate(range(0, len(pcm), size)):
                if stop.is_set():
                    return
                await session.send_realtime_input(audio=types.Blob(data=pcm[i:i + size], mime_type="audio/pcm;rate=16000"))
                counts["audio_messages_sent"] += 1
                counts["audio_bytes_sent"] += len(pcm[i:i + size])
                delay = start + (n + 1) * step - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await session.send_realtime_input(audio_stream_end=True)

        async def receive():
            while True:
                async for msg in session.receive():   # one turn
                    counts["messages_received"] += 1
                    sc = msg.server_content
                    if sc is None:
                        continue
                    if sc.model_turn and sc.model_turn.parts:
                        for part in sc.model_turn.parts:
                            if part.inline_data and part.inline_data.data:
                                counts["audio_bytes_received"] += len(part.inline_data.data)
                    if sc.interrupted:
                        counts["interrupted"] += 1
                    if sc.turn_complete:
                        counts["turns"] += 1

        tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, tasks[1]], return_when=asyncio.FIRST_COMPLETED)
        for t in tasks + [stopper]:
            t.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
    print(json.dumps(counts), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="ws://HOST:PORT or wss://HOST:PORT")
    ap.add_argument("--wav", required=True, help="16 kHz mono PCM16 WAV, streamed as the microphone")
    ap.add_argument("--chunk-ms", type=int, default=20, help="audio per message (livetalk sends 20 ms)")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
