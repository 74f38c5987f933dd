#!/usr/bin/env python3
"""A hostile subtensor node for tests/hostile_node.rs.

Usage: hostile_node.py MODE [CAP_BYTES]. Listens on 127.0.0.1, an OS-chosen port, prints that
port on stdout once listening, and serves every connection in MODE until killed.

The WebSocket server is written by hand over asyncio streams so that the test needs nothing
beyond the standard library and so that it can send what no library would: frames whose header
lies about their length, answers dripped a byte at a time, a handshake never finished.
"""

import asyncio
import base64
import hashlib
import json
import os
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MODES = (
    "silent",
    "mute",
    "garbage",
    "wrong",
    "huge",
    "huge-fragments",
    "huge-header",
    "huge-stall",
    "drip",
    "badmeta",
    "badmeta-len",
)
# The client's cap on one answer (RpcConfig::max_response_bytes); the huge modes go past it.
CAP = int(sys.argv[2]) if len(sys.argv) > 2 else 16 << 20
CHUNK = 1 << 16


def log(*args):
    print(*args, file=sys.stderr, flush=True)


async def handshake(reader, writer):
    # A request line and headers; an upgrade request is well under 8 KiB.
    raw = await reader.readuntil(b"\r\n\r\n")
    if len(raw) > 8192:
        raise ConnectionError("handshake too long")
    key = None
    for line in raw.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    if key is None:
        raise ConnectionError("no Sec-WebSocket-Key")
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    await writer.drain()


def header(opcode, length, fin=True):
    # Server frames are not masked.
    b0 = (0x80 if fin else 0) | opcode
    if length < 126:
        return struct.pack("!BB", b0, length)
    if length < 1 << 16:
        return struct.pack("!BBH", b0, 126, length)
    return struct.pack("!BBQ", b0, 127, length)


async def send_text(writer, text):
    data = text.encode() if isinstance(text, str) else text
    writer.write(header(0x1, len(data)) + data)
    await writer.drain()


async def read_frame(reader):
    """(opcode, payload) of the client's next frame (client frames are masked)."""
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    if length > 1 << 20:
        raise ConnectionError("client frame too long")
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytearray(await reader.readexactly(length))
    for i in range(len(data)):
        data[i] ^= mask[i % 4]
    return b0 & 0x0F, bytes(data)


async def stream_filler(writer, n):
    """n bytes of 'a', written a chunk at a time so this process never holds them all."""
    block = b"a" * CHUNK
    while n > 0:
        writer.write(block[: min(n, CHUNK)])
        n -= min(n, CHUNK)
        await writer.drain()


async def until_closed(reader):
    # Keep reading (so a close by the client is seen and logged), never answer.
    while await reader.read(4096):
        pass
    raise ConnectionError("closed by the client")


def reply(req_id, result):
    return json.dumps({"jsonrpc": "2.0", "id": req_id, "result": result})


def sensible(method, req_id):
    """Answers that get Subtensor::connect as far as decoding the metadata."""
    if method == "state_getRuntimeVersion":
        return reply(
            req_id,
            {
                "specName": "node-subtensor",
                "implName": "node-subtensor",
                "authoringVersion": 1,
                "specVersion": 1,
                "implVersion": 1,
                "apis": [],
                "transactionVersion": 1,
                "stateVersion": 1,
            },
        )
    if method == "chain_getBlockHash":
        return reply(req_id, "0x" + "11" * 32)
    if method == "state_call":
        # `None`: the runtime has no V15 metadata, so the client asks state_getMetadata.
        return reply(req_id, "0x00")
    return None


async def answer(mode, reader, writer, req):
    req_id = req.get("id")
    method = req.get("method", "")
    if mode == "garbage":
        await send_text(writer, "<html>502 Bad Gateway</html> \x00\xff not json {")
    elif mode == "wrong":
        # Well-formed JSON-RPC whose result has the wrong shape for every method we call.
        await send_text(writer, reply(req_id, 42))
    elif mode == "huge":
        # One honest frame, just past the cap, streamed.
        n = CAP + (1 << 20)
        writer.write(header(0x1, n))
        await stream_filler(writer, n)
    elif mode == "huge-fragments":
        # Frames each well under the cap whose sum is past it.
        part = 1 << 20
        total = CAP + 2 * part
        sent = 0
        while sent < total:
            first = sent == 0
            last = sent + part >= total
            writer.write(header(0x1 if first else 0x0, part, fin=last))
            await stream_filler(writer, part)
            sent += part
    elif mode == "huge-header":
        # A header claiming an absurd length, then a trickle that never ends it.
        writer.write(header(0x1, 1 << 62) + b'{"jsonrpc":"2.0"')
        await writer.drain()
        await until_closed(reader)
    elif mode == "huge-stall":
        # Past the cap but below any library's hard frame limit, then silence.
        writer.write(header(0x1, 100 << 20) + b'{"jsonrpc":"2.0"')
        await writer.drain()
        await until_closed(reader)
    elif mode == "drip":
        # A correct-looking answer, one byte every 200 ms: slow, never silent.
        body = reply(req_id, "0x" + "00" * 64).encode()
        writer.write(header(0x1, len(body)))
        for b in body:
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(0.2)
    elif mode in ("badmeta", "badmeta-len"):
        out = sensible(method, req_id)
        if out is None and method == "state_getMetadata":
            if mode == "badmeta":
                # Valid hex, bytes that are no SCALE metadata.
                garbage = hashlib.sha256(b"garbage").digest() * 128
            else:
                # The `meta` magic, V14, then a type registry claiming 2^30 entries:
                # a decoder that trusts the count allocates before reading.
                garbage = b"meta" + bytes([14]) + bytes([0x03, 0x00, 0x00, 0x00, 0x40]) + b"\x00" * 64
            out = reply(req_id, "0x" + garbage.hex())
        if out is None:
            out = json.dumps(
                {"jsonrpc": "2.0", "id": req_id, "error": {"code": -32601, "message": "Method not found"}}
            )
        await send_text(writer, out)


async def serve(mode, reader, writer):
    peer = writer.get_extra_info("peername")
    try:
        if mode == "silent":
            # Accept the TCP connection, never answer the upgrade.
            await until_closed(reader)
        await handshake(reader, writer)
        while True:
            opcode, data = await read_frame(reader)
            if opcode == 0x8:
                return
            if opcode == 0x9:
                writer.write(header(0xA, len(data)) + data)
                await writer.drain()
                continue
            if opcode not in (0x1, 0x2) or mode == "mute":
                continue
            try:
                req = json.loads(data)
            except ValueError:
                continue
            for r in req if isinstance(req, list) else [req]:
                await answer(mode, reader, writer, r)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        log("closed", peer)
        writer.close()


async def main():
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        log("usage: hostile_node.py MODE [CAP_BYTES]; modes:", " ".join(MODES))
        sys.exit(2)
    mode = sys.argv[1]
    server = await asyncio.start_server(lambda r, w: serve(mode, r, w), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Die with the test: when it closes our stdin (or dies), stop.
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.buffer.read)
    async with server:
        await asyncio.wait([asyncio.ensure_future(server.serve_forever()), stdin_closed],
                           return_when=asyncio.FIRST_COMPLETED)
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
