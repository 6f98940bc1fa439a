"""The S3 port: an aiohttp server on a thread of its own, beside the node's gRPC ports.

**Why aiohttp.** The gateway streams bodies both ways (a 5 GiB put or get never sits in memory), keeps
HTTP/1.1 connections alive for clients that send thousands of small requests, and answers `Expect:
100-continue` (botocore waits up to a second for it before sending a body). aiohttp does all three on
one asyncio loop, with backpressure both ways: a request body is read only as fast as the handler
asks for it (`request.content`), and `StreamResponse.write` waits while the client's socket is full.
uvicorn with an ASGI application would do the same, but as a second layer (uvicorn's protocol, then
the ASGI framing, then the application), with a server meant to own the process's main thread and
signals; noded already owns those (gRPC, SIGHUP reloads). aiohttp's `AppRunner` and `TCPSite` run
on any loop in any thread and take an `ssl.SSLContext`, so the S3 port serves HTTPS with the node's
own certificate and reloads it with the gRPC ports.

**Threads.** The node's object layer is blocking code (gRPC calls to peers, LMDB, fsyncs), so
handlers run it on a pool of worker threads (`S3_WORKERS_MAX`), never on the loop. Bodies cross
between the two a frame at a time (node/s3/body.py), so the loop only moves bytes and the workers
hash, encode and store them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("ringstore.s3")

# Worker threads for the object layer's blocking calls; as many puts and gets run at once.
S3_WORKERS_MAX = 64
# Longest a start or stop of the server may take.
START_TIMEOUT_S = 10.0
# Longest request line and header block aiohttp accepts (S3 allows 8 KiB of headers; presigned
# URLs with long keys need a long request line).
MAX_LINE_BYTES = 16 * 1024
MAX_FIELD_BYTES = 16 * 1024


class S3Server:
    """Serves `handle(request)` on `address` (host:port; port 0 picks one), TLS when `ssl_context`."""

    def __init__(self, handle: Callable[[web.Request], Awaitable[web.StreamResponse]], *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._handle = handle
        self._ssl_context = ssl_context
        self.pool = cf.ThreadPoolExecutor(max_workers=S3_WORKERS_MAX, thread_name_prefix="s3")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.address = ""

    def start(self, address: str) -> str:
        """Bind and serve; returns host:port as bound. Raises OSError when the address is taken."""
        host, port = address.rsplit(":", 1)
        ready: cf.Future = cf.Future()
        self.loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                bound = self.loop.run_until_complete(self._serve(host, int(port)))
            except BaseException as err:  # noqa: BLE001 - handed to start()'s caller
                ready.set_exception(err)
                return
            ready.set_result(bound)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="s3-loop", daemon=True)
        self._thread.start()
        self.address = ready.result(timeout=START_TIMEOUT_S)
        return self.address

    async def _serve(self, host: str, port: int) -> str:
        app = web.Application(handler_args={"max_line_size": MAX_LINE_BYTES, "max_field_size": MAX_FIELD_BYTES})
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl_context, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # noqa: SLF001 - the bound port
        bound_port = sockets[0].getsockname()[1] if sockets else port
        return f"{host}:{bound_port}"

    def run_blocking(self, fn: Callable, *args) -> asyncio.Future:
        """`fn(*args)` on a worker thread, awaitable on the loop."""
        assert self.loop is not None
        return self.loop.run_in_executor(self.pool, fn, *args)

    def stop(self) -> None:
        if self.loop is None or self._thread is None:
            return
        loop = self.loop
        if self._runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=START_TIMEOUT_S)
            except (cf.TimeoutError, RuntimeError) as err:
                log.warning("S3 server did not stop cleanly: %s", err)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=START_TIMEOUT_S)
        self.pool.shutdown(wait=False, cancel_futures=True)
