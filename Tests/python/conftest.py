"""Shared fixtures: the built livetalk binary, TLS material, and `livetalk serve` processes."""
import os
import re
import subprocess
import tempfile
import pathlib
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("LIVETALK_BIN", str(ROOT / ".build" / "debug" / "livetalk"))


def binary():
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} is missing: run `swift build` first (scripts/test does)")
    return BIN


@pytest.fixture(scope="session")
def certs():
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="livetalk-certs-"))
    def run(*args):
        subprocess.run(args, cwd=d, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=livetalk test CA",
        "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                  "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "server.pem")
    return d


class Serve:
    def __init__(self, *args, env=None, tls=None):
        cmd = [binary(), "serve", "--port", "0", "--log-level", "warning", *args]
        if tls is not None:
            cmd += ["--tls-cert", str(tls / "server.pem"), "--tls-key", str(tls / "server.key")]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (wss?)://([\d.]+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"serve did not start: {line!r} {self.proc.stderr.read()}")
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))

    @property
    def ws_url(self):
        return f"{self.scheme}://{self.host}:{self.port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def serve_factory():
    started = []
    def make(*args, **kw):
        s = Serve(*args, **kw)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


@pytest.fixture
def echo_path():
    """The speaker heard by the microphone (issue 11): voice_out.monitor looped into mic_feed,
    50 ms later and 6 dB down, for the duration of a test (scripts/echo-path)."""
    if "PULSE_SERVER" not in os.environ:
        pytest.skip("needs the test PulseAudio daemon (scripts/test)")
    script = str(ROOT / "scripts" / "echo-path")
    subprocess.run([script, "on", "50", "-6"], check=True, capture_output=True)
    yield
    subprocess.run([script, "off"], capture_output=True)


@pytest.fixture
def ui(tmp_path):
    """Full-screen clients in tmux (`ui(args=…)` makes one); all closed at the end of the test."""
    from helpers import Tmux
    sessions = []
    def make(**kw):
        t = Tmux(tmp_path, **kw)
        sessions.append(t)
        return t
    yield make
    for t in sessions:
        t.close()
