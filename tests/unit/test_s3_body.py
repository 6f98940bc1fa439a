"""The S3 port's request bodies between the loop and a worker (node/s3/body.py), on a real aiohttp
server on loopback: nothing is read before the worker's first pull, then the loop reads ahead of
the worker, never more than FRAMES_AHEAD frames, every byte arrives in order, and a body that
breaks off is IncompleteBody for the worker."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time

import aiohttp
import pytest
from aiohttp import web

from node.s3.body import FRAME_BYTES, FRAMES_AHEAD, BodyFrames
from node.s3.errors import S3Error

DEADLINE_S = 20.0


def _consume(body: BodyFrames) -> dict:
    """The worker: nothing is read before its first pull; after it, wait until the loop has filled
    the queue (it reads while the worker is busy), then take every frame, watching the queue."""
    time.sleep(0.2)  # a worker that has not pulled yet: no frame may be read for it meanwhile
    waiting = len(body._ready)
    longest, size, digest = 0, 0, hashlib.sha256()
    try:
        for frame in body:
            if size == 0:
                deadline = time.monotonic() + DEADLINE_S
                while len(body._ready) < FRAMES_AHEAD:
                    assert time.monotonic() < deadline, f"the loop read only {len(body._ready)} frames ahead"
                    time.sleep(0.01)
            longest = max(longest, len(body._ready))
            size += len(frame)
            digest.update(frame)
    except S3Error as err:
        return {"error": err.code, "size": size, "waiting": waiting}
    return {"longest": longest, "size": size, "sha256": digest.hexdigest(), "waiting": waiting}


async def _serve(results: list) -> tuple[web.AppRunner, int]:
    async def handler(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        body = BodyFrames(request, loop)
        try:
            results.append(await loop.run_in_executor(None, _consume, body))
        finally:
            await body.stop()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_put("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


def test_the_loop_reads_ahead_of_the_worker_but_never_more_than_frames_ahead():
    data = os.urandom(FRAME_BYTES * (FRAMES_AHEAD + 5) + 12345)

    async def main() -> dict:
        results: list = []
        runner, port = await _serve(results)
        try:
            async with aiohttp.ClientSession() as session:
                async with session.put(f"http://127.0.0.1:{port}/", data=data) as answer:
                    assert answer.status == 200
        finally:
            await runner.cleanup()
        return results[0]

    found = asyncio.run(asyncio.wait_for(main(), DEADLINE_S))
    assert found == {"longest": FRAMES_AHEAD, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                     "waiting": 0}


def test_a_body_that_breaks_off_is_incomplete_for_the_worker():
    sent = FRAME_BYTES * (FRAMES_AHEAD + 1)

    async def main() -> dict:
        results: list = []
        runner, port = await _serve(results)
        try:
            def client() -> None:
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    sock.sendall(f"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: {sent * 4}\r\n\r\n".encode())
                    sock.sendall(b"x" * sent)
            await asyncio.get_running_loop().run_in_executor(None, client)
            deadline = time.monotonic() + DEADLINE_S
            while not results:
                assert time.monotonic() < deadline, "the worker never saw the body end"
                await asyncio.sleep(0.01)
        finally:
            await runner.cleanup()
        return results[0]

    found = asyncio.run(asyncio.wait_for(main(), DEADLINE_S + 5))
    # Whatever part of the sent bytes the server read before the connection broke, never more.
    assert found["error"] == "IncompleteBody" and found["waiting"] == 0
    assert FRAMES_AHEAD * FRAME_BYTES <= found["size"] <= sent
