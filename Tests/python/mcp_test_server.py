"""The project's own MCP server for the tests (issue 12): slow calls, errors, cancellation and a
crash mid-call. Built on the official `mcp` package's MCPServer (FastMCP in mcp 1.x).

    python mcp_test_server.py [--marks DIR] [--http PORT]

Stdio by default; `--http PORT` serves streamable HTTP on 127.0.0.1 with plain JSON responses
(what the Swift SDK's HTTP client reads on Linux). With `--marks DIR` every event a test checks
(a call started, finished, cancelled; the server started) is a file in DIR, so a test sees what
happened inside the server without timing anything.
"""

import argparse
import os
import sys
import time

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

parser = argparse.ArgumentParser()
parser.add_argument("--marks", default=None)
parser.add_argument("--http", type=int, default=None)
opts = parser.parse_args()


def mark(name: str, text: str = "") -> None:
    if opts.marks:
        os.makedirs(opts.marks, exist_ok=True)
        with open(os.path.join(opts.marks, name), "a") as f:
            f.write(text + "\n")


server = MCPServer("livetalk-test")


@server.tool()
def add_numbers(a: int, b: int) -> str:
    """Adds two whole numbers."""
    return str(a + b)


@server.tool()
async def slow_echo(text: str, seconds: float = 5.0) -> str:
    """Echoes the text after waiting the given number of seconds."""
    mark("slow_started", text)
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        mark("slow_cancelled", text)
        raise
    mark("slow_finished", text)
    return f"echo: {text}"


@server.tool()
def always_fail(reason: str = "on purpose") -> str:
    """Fails with the reason given."""
    raise ToolError(f"always_fail failed {reason}")


@server.tool()
def crash_now(code: int = 3) -> str:
    """Ends the server process in the middle of the call."""
    mark("crashed", str(code))
    sys.stderr.write("livetalk-test server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(code)


mark("started", str(os.getpid()))
sys.stderr.write(f"livetalk-test server started, pid {os.getpid()}\n")
sys.stderr.flush()
if opts.http:
    server.run("streamable-http", host="127.0.0.1", port=opts.http, json_response=True, stateless_http=True)
else:
    server.run()
