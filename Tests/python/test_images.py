"""Issue 12, item 6: images as `realtimeInput.video` — `/image PATH` in line mode, the `o` key on
the screen, and the SDK sending a frame; the emulator answers with the size it saw."""
import asyncio
import shutil
import struct
import zlib

import pytest
from google.genai import types

from helpers import Tmux, pane_text
from test_cli import run
from test_sdk import MODEL, client


def png(path, w, h, rgba=(0x33, 0x66, 0xCC, 0x80)):
    """A PNG written with zlib alone (an encoder independent of the one under test)."""
    raw = b"".join(b"\x00" + bytes(rgba) * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return path


def test_image_command_in_line_mode(tmp_path):
    small, big = png(tmp_path / "small.png", 320, 200), png(tmp_path / "big photo.png", 1600, 900)
    (tmp_path / "notes.txt").write_text("not an image")
    script = (f"/image {big}\nhello\n/image {tmp_path / 'notes.txt'}\n/image {tmp_path / 'missing.png'}\n"
              f"/image {small}\nwhat do you see\n")
    p = run(["--no-tui", "--text"], stdin=script, home=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert f"[image] sent {big} as a 768×432 JPEG" in out          # scaled to 768, spaces in the path kept
    assert "model> I see an image of 768×432 pixels. Hello! I am the offline emulator." in out
    assert f"[warn] cannot send {tmp_path / 'notes.txt'}: not a JPEG or PNG image" in out
    assert f"[warn] cannot send {tmp_path / 'missing.png'}: cannot read" in out
    assert f"[image] sent {small} as a 320×200 JPEG" in out
    assert "model> I see an image of 320×200 pixels." in out


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/setup installs it)")
def test_image_key_on_screen(tmp_path):
    img = png(tmp_path / "pic.png", 640, 480)
    t = Tmux(tmp_path, args="--text")
    try:
        t.wait_for("● CONNECTED")
        t.keys("o")
        t.wait_for("image (JPEG or PNG path)>")
        t.keys("-l", str(img))
        t.keys("Enter")
        t.wait_until(lambda s: "sent" in s and "pic.png" in s, "the session pane's notice that the image went out")
        t.type("what do you see")
        t.wait_for("I see an image of 640×480 pixels.")
        assert "I see an image of 640×480 pixels." in pane_text(t.capture(), "2 Model")
        t.keys("q")
        t.wait_for("EXIT=0")
    finally:
        t.close()


@pytest.fixture
def tls_server(serve_factory, certs):
    return serve_factory(tls=certs)


def test_sdk_video_frame(tls_server, certs, tmp_path):
    jpeg_source = png(tmp_path / "f.png", 200, 100)   # the SDK sends any image/*; the emulator reads PNG too
    async def go():
        c = client(tls_server, certs)
        async with c.aio.live.connect(model=MODEL, config=types.LiveConnectConfig(response_modalities=["TEXT"])) as s:
            await s.send_realtime_input(video=types.Blob(data=jpeg_source.read_bytes(), mime_type="image/png"))
            await s.send_realtime_input(text="what do you see")
            text = ""
            async for msg in s.receive():
                if msg.text:
                    text += msg.text
            return text
    assert asyncio.run(go()) == "I see an image of 200×100 pixels."
