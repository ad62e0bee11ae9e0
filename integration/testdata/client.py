#!/usr/bin/python3
"""Interoperability checks of the wsc echo endpoint with Python websockets.

Usage: /usr/bin/python3 client.py ws://127.0.0.1:PORT/samples/echo

Prints one line per check ("ok" or "FAIL") and exits 1 if any check failed.
Written for websockets 10.x (the legacy asyncio client, websockets.connect).
"""

import asyncio
import os
import random
import string
import sys

import websockets

MIB = 1 << 20
LIMIT = 16 * MIB  # the echo endpoint's largest message
TIMEOUT = 15  # seconds for any one step

failures = []


def report(name, ok, detail=""):
    if ok:
        print(f"ok   {name}")
    else:
        print(f"FAIL {name}: {detail}")
        failures.append(name)


def describe(value):
    """A short description of a message for failure output."""
    kind = type(value).__name__
    if len(value) > 40:
        return f"{kind} of length {len(value)} starting {value[:40]!r}"
    return f"{kind} {value!r}"


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def check_echo(ws, name, message, expected=None):
    """Sends message (a str, bytes, or list of fragments) and checks the echo:
    same type and exactly the expected content."""
    if expected is None:
        expected = message
    try:
        await asyncio.wait_for(ws.send(message), TIMEOUT)
        got = await recv(ws)
    except Exception as e:  # report and go on with the next check
        report(name, False, f"{type(e).__name__}: {e}")
        return
    ok = type(got) is type(expected) and got == expected
    report(name, ok, f"sent {describe(expected)}, got {describe(got)}")


def random_text(n):
    return "".join(random.choices(string.ascii_letters + string.digits + " .,;:!?", k=n))


async def echo_checks(ws, label):
    await check_echo(ws, f"{label} text", "Hello, wsc!")
    await check_echo(ws, f"{label} binary", bytes(range(256)))
    await check_echo(ws, f"{label} empty text", "")
    await check_echo(ws, f"{label} empty binary", b"")
    await check_echo(
        ws, f"{label} fragmented text", ["frag", "ment", "ed 텍스트 ✓"], "fragmented 텍스트 ✓"
    )
    await check_echo(
        ws, f"{label} fragmented binary", [b"\x00\x01", b"", b"\xff" * 1000], b"\x00\x01" + b"\xff" * 1000
    )
    await check_echo(ws, f"{label} 1 MiB text", random_text(MIB))
    await check_echo(ws, f"{label} 1 MiB binary", os.urandom(MIB))
    await check_echo(ws, f"{label} UTF-8 text", "안녕하세요, 세계! 🌍🚀 — ünïcödé 𝄞")

    try:
        pong = await ws.ping(b"wsc-ping")
        await asyncio.wait_for(pong, TIMEOUT)
        report(f"{label} ping/pong", True)
    except Exception as e:
        report(f"{label} ping/pong", False, f"{type(e).__name__}: {e}")

    # 100 messages pipelined, then 100 reads: the echoes keep their order.
    sent = [f"message {i}" if i % 2 == 0 else f"message {i}".encode() for i in range(100)]
    try:
        for m in sent:
            await asyncio.wait_for(ws.send(m), TIMEOUT)
        got = [await recv(ws) for _ in sent]
        bad = [i for i, (s, g) in enumerate(zip(sent, got)) if type(s) is not type(g) or s != g]
        report(f"{label} 100 pipelined messages in order", not bad,
               f"first mismatch at {bad[:1]}: {describe(got[bad[0]]) if bad else ''}")
    except Exception as e:
        report(f"{label} 100 pipelined messages in order", False, f"{type(e).__name__}: {e}")

    try:
        await asyncio.wait_for(ws.close(code=1000, reason="bye"), TIMEOUT)
        report(f"{label} close 1000", ws.close_code == 1000,
               f"close code {ws.close_code}, reason {ws.close_reason!r}")
    except Exception as e:
        report(f"{label} close 1000", False, f"{type(e).__name__}: {e}")


async def main(url):
    print(f"websockets {websockets.__version__}, {url}")

    async with websockets.connect(url, max_size=2 * LIMIT, open_timeout=TIMEOUT) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        report("[deflate] permessage-deflate negotiated", "permessage-deflate" in extensions,
               f"Sec-WebSocket-Extensions: {extensions!r}")
        await echo_checks(ws, "[deflate]")

    async with websockets.connect(url, compression=None, max_size=2 * LIMIT,
                                  open_timeout=TIMEOUT) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        report("[plain] no extension negotiated", extensions == "",
               f"Sec-WebSocket-Extensions: {extensions!r}")
        await echo_checks(ws, "[plain]")

    # A message that compresses well but inflates past the limit is refused
    # with 1009, like an uncompressed one.
    name = "[deflate] 16 MiB + 1 compressed message closes with 1009"
    async with websockets.connect(url, max_size=2 * LIMIT, open_timeout=TIMEOUT) as ws:
        try:
            await asyncio.wait_for(ws.send(bytes(LIMIT + 1)), TIMEOUT)
            got = await recv(ws)
            report(name, False, f"the message was echoed: {describe(got)}")
        except websockets.ConnectionClosed:
            await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
            report(name, ws.close_code == 1009,
                   f"close code {ws.close_code}, reason {ws.close_reason!r}")
        except Exception as e:
            report(name, False, f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: client.py ws://HOST:PORT/samples/echo")
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1]), 50))
    except Exception as e:
        report("run", False, f"{type(e).__name__}: {e}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
