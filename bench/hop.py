"""What one gRPC hop costs in Python on this machine: the floor under every byte a node moves.

    python -m bench.hop [--size-mib 512] [--runs 3] [--hash] [--json PATH]

A server process and this process (the client) move `--size-mib` of bytes through one
client-streaming call, in messages of 4 MiB (node to node) and 1 MiB (client to node), over TLS
(the cluster's default) and plaintext, with gRPC's threaded API (what noded and nodectl use) and
with grpc.aio on both ends (one event loop per process). Nothing else happens to the bytes: no
framing, no hashing, no disk. The server only counts what arrives, so each figure is the least CPU
a hop can cost, per MB and per side, with the same channel options the nodes use (BDP probe off,
16 MiB message limit). `--hash` makes the receiver blake3 every message, as a holder does.

Then the floor of a small operation: `CALLS` unary calls one after another on one channel, a
64-byte question and a 4 KiB answer (a small get's shape), CPU per call on each side.

Then the other half of a holder's floor: a node store (real LMDB, real files, in a scratch
directory under /var/tmp) storing 4 MiB shares the way a holder commits a received one
(`NodeStore.put_share`: temp file written and fsynced, blake3 verified, renamed, directory fsynced,
index committed), the bytes already in memory, so the figure is the store's CPU per MB and per share.

Each variant runs `--runs` times, interleaved, and the median is reported: the machine moves
more between minutes than between variants. Compare a path's measured CPU per MB with
(hops per MB) x (the hop's client + server figure) + (copies per MB) x (the store's figure) to see
how much of it is the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import grpc

from bench.put_get import process_cpu_s, self_cpu_s

MIB = 1024 * 1024
METHOD = "/bench.Hop/Send"
ASK_METHOD = "/bench.Hop/Ask"
ANSWER = bytes(4096)  # a small get's answer
CALLS = 2000
MESSAGE_BYTES_MAX = 16 * MIB
OPTIONS = [("grpc.max_send_message_length", MESSAGE_BYTES_MAX),
           ("grpc.max_receive_message_length", MESSAGE_BYTES_MAX),
           ("grpc.http2.bdp_probe", 0)]
MODES = ("sync", "aio")
STORE_SHARES = 64
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]  # where `python -m bench.hop` finds bench/


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tls(directory: pathlib.Path) -> bytes:
    """A CA and a server certificate for 127.0.0.1 in `directory` (hop.crt, hop.key), made with the
    project's own certificate tooling; returns the CA's PEM, which clients trust."""
    from nodectl import tls
    tls.init_ca(directory / "ca")
    tls.issue_node(directory / "ca", "hop", ["127.0.0.1"], out_dir=directory)
    return (directory / "ca" / tls.CA_CERT_FILE).read_bytes()


def _listen(server, port: int, credentials) -> None:
    """Bind a threaded or grpc.aio server to 127.0.0.1:port, with TLS when `credentials` are given."""
    address = f"127.0.0.1:{port}"
    if credentials is None:
        server.add_insecure_port(address)
    else:
        server.add_secure_port(address, credentials)


def _channel(api, port: int, ca: bytes | None):
    """A threaded (api=grpc) or grpc.aio channel to the server, with TLS when `ca` is given."""
    target = f"127.0.0.1:{port}"
    return (api.secure_channel(target, grpc.ssl_channel_credentials(ca), options=OPTIONS) if ca
            else api.insecure_channel(target, options=OPTIONS))


def _median(results: list[dict]) -> dict:
    """Each field's median over runs."""
    return {field: statistics.median(r[field] for r in results) for field in results[0]}


def _receiver(hash_each: bool):
    import blake3

    def take(message: bytes, counted: list[int]) -> None:
        counted[0] += len(message)
        if hash_each:
            blake3.blake3(message).digest()
    return take


def serve(port: int, mode: str, tls_dir: str, hash_each: bool) -> None:
    take = _receiver(hash_each)
    credentials = None
    if tls_dir:
        directory = pathlib.Path(tls_dir)
        credentials = grpc.ssl_server_credentials([((directory / "hop.key").read_bytes(),
                                                    (directory / "hop.crt").read_bytes())])
    if mode == "sync":
        from concurrent import futures

        def send(requests, context):
            counted = [0]
            for message in requests:
                take(message, counted)
            return counted[0].to_bytes(8, "big")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=OPTIONS)
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "bench.Hop", {"Send": grpc.stream_unary_rpc_method_handler(send),
                          "Ask": grpc.unary_unary_rpc_method_handler(lambda request, context: ANSWER)})])
        _listen(server, port, credentials)
        server.start()
        print("ready", flush=True)
        sys.stdin.read()
        server.stop(0)
        return

    async def main() -> None:
        async def send(requests, context):
            counted = [0]
            async for message in requests:
                take(message, counted)
            return counted[0].to_bytes(8, "big")
        async def ask(request, context):
            return ANSWER
        server = grpc.aio.server(options=OPTIONS)
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "bench.Hop", {"Send": grpc.stream_unary_rpc_method_handler(send),
                          "Ask": grpc.unary_unary_rpc_method_handler(ask)})])
        _listen(server, port, credentials)
        await server.start()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop(0)
    asyncio.run(main())


def send_sync(port: int, ca: bytes | None, message: bytes, count: int) -> int:
    with _channel(grpc, port, ca) as channel:
        call = channel.stream_unary(METHOD)
        return int.from_bytes(call(message for _ in range(count)), "big")


def send_aio(port: int, ca: bytes | None, message: bytes, count: int) -> int:
    async def main() -> int:
        async with _channel(grpc.aio, port, ca) as channel:
            call = channel.stream_unary(METHOD)(None)
            for _ in range(count):
                await call.write(message)
            await call.done_writing()
            return int.from_bytes(await call, "big")
    return asyncio.run(main())


def ask_sync(port: int, ca: bytes | None, calls: int) -> int:
    with _channel(grpc, port, ca) as channel:
        ask = channel.unary_unary(ASK_METHOD)
        return sum(len(ask(b"k" * 64)) for _ in range(calls))


def ask_aio(port: int, ca: bytes | None, calls: int) -> int:
    async def main() -> int:
        async with _channel(grpc.aio, port, ca) as channel:
            ask = channel.unary_unary(ASK_METHOD)
            return sum([len(await ask(b"k" * 64)) for _ in range(calls)])
    return asyncio.run(main())


@contextlib.contextmanager
def _server(mode: str, tls: tuple[str, bytes] | None, hash_each: bool) -> Iterator[subprocess.Popen]:
    """A server process on a free port (its number in `.port`), stopped when the block ends."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.hop", "--serve", str(port), "--mode", mode,
                               "--tls-dir", tls[0] if tls else "", *(["--hash"] if hash_each else [])],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=CHECKOUT)
    server.port = port
    try:
        if server.stdout.readline().strip() != "ready":
            raise SystemExit(f"bench.hop: the {mode} server did not start")
        yield server
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def one_run(mode: str, tls: tuple[str, bytes] | None, message_bytes: int, size_bytes: int,
            hash_each: bool) -> dict:
    """One client-streaming call moving `size_bytes` in messages of `message_bytes`."""
    ca = tls[1] if tls else None
    with _server(mode, tls, hash_each) as server:
        message = os.urandom(message_bytes)
        count = size_bytes // message_bytes
        send = send_sync if mode == "sync" else send_aio
        send(server.port, ca, message, 2)  # the server's first call, not measured
        client0, server0, t0 = self_cpu_s(), process_cpu_s(server.pid), time.perf_counter()
        received = send(server.port, ca, message, count)
        wall = time.perf_counter() - t0
        client1, server1 = self_cpu_s(), process_cpu_s(server.pid)
    if received != count * message_bytes:
        raise SystemExit(f"bench.hop: {received} bytes arrived of {count * message_bytes}")
    mb = count * message_bytes / 1e6
    return {"mb_s": mb / wall, "client_ms_per_mb": 1000 * (client1 - client0) / mb,
            "server_ms_per_mb": 1000 * (server1 - server0) / mb}


def ask_run(mode: str, tls: tuple[str, bytes] | None, calls: int) -> dict:
    """`calls` unary calls one after another (a 64-byte question, a 4 KiB answer) on one channel."""
    ca = tls[1] if tls else None
    with _server(mode, tls, False) as server:
        ask = ask_sync if mode == "sync" else ask_aio
        ask(server.port, ca, 2)
        client0, server0, t0 = self_cpu_s(), process_cpu_s(server.pid), time.perf_counter()
        answered = ask(server.port, ca, calls)
        wall = time.perf_counter() - t0
        client1, server1 = self_cpu_s(), process_cpu_s(server.pid)
    if answered != calls * len(ANSWER):
        raise SystemExit(f"bench.hop: {answered} bytes answered of {calls * len(ANSWER)}")
    return {"calls_s": calls / wall, "client_ms_per_call": 1000 * (client1 - client0) / calls,
            "server_ms_per_call": 1000 * (server1 - server0) / calls}


def store_cost(shares: int) -> dict:
    """CPU of `NodeStore.put_share` for `shares` distinct 4 MiB shares, in a fresh store."""
    import blake3

    from node.store import ShareKey
    from node.store.store import NodeStore
    from ringstore.v1 import common_pb2

    payloads = [os.urandom(4 * MIB) for _ in range(shares)]
    ids = [blake3.blake3(p).digest() for p in payloads]
    ref = common_pb2.ObjectRef(tenant="default", bucket="hop", key="share")
    with tempfile.TemporaryDirectory(prefix="ringstore-hop-store-", dir="/var/tmp") as scratch:
        store = NodeStore(scratch)
        try:
            cpu0, t0 = self_cpu_s(), time.perf_counter()
            for share_id, payload in zip(ids, payloads):
                store.put_share(ShareKey(share_id), payload, expected_blake3=share_id, placement=None,
                                referenced_by=ref)
            cpu, wall = self_cpu_s() - cpu0, time.perf_counter() - t0
        finally:
            store.close()
    mb = shares * 4 * MIB / 1e6
    return {"store_ms_per_mb": 1000 * cpu / mb, "store_ms_per_share": 1000 * cpu / shares,
            "store_mb_s": mb / wall}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hash", action="store_true", help="the receiver blake3s every message")
    parser.add_argument("--json", default="", help="also write the figures here")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, default="sync", help=argparse.SUPPRESS)
    parser.add_argument("--tls-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.mode, args.tls_dir, args.hash)
        return
    with tempfile.TemporaryDirectory(prefix="ringstore-hop-") as scratch:
        ca = make_tls(pathlib.Path(scratch))
        tls_of = {"tls": (scratch, ca), "plain": None}
        variants = [(mode, security, message_mib) for security in tls_of for mode in MODES for message_mib in (4, 1)]
        runs: dict[tuple, list[dict]] = {variant: [] for variant in variants}
        for _ in range(args.runs):
            for mode, security, message_mib in variants:
                runs[(mode, security, message_mib)].append(
                    one_run(mode, tls_of[security], message_mib * MIB, args.size_mib * MIB, args.hash))
        print(f"one hop, {args.size_mib} MiB per run, median of {args.runs}"
              f"{', receiver hashes' if args.hash else ''}")
        print(f"{'api':<6}{'wire':<7}{'message':>9}{'MB/s':>9}{'client ms/MB':>14}{'server ms/MB':>14}{'both':>8}")
        table = []
        for (mode, security, message_mib), results in runs.items():
            row = {**_median(results), "api": mode, "wire": security, "message_mib": message_mib}
            table.append(row)
            print(f"{mode:<6}{security:<7}{message_mib:>7} M{row['mb_s']:>9.0f}{row['client_ms_per_mb']:>14.2f}"
                  f"{row['server_ms_per_mb']:>14.2f}{row['client_ms_per_mb'] + row['server_ms_per_mb']:>8.2f}")
        print(f"\nunary calls, a 64-byte question and a {len(ANSWER) // 1024} KiB answer, {CALLS} one after another")
        print(f"{'api':<6}{'wire':<7}{'calls/s':>9}{'client ms':>11}{'server ms':>11}{'both':>8}")
        asks = []
        for security, tls in tls_of.items():
            for mode in MODES:
                row = {**_median([ask_run(mode, tls, CALLS) for _ in range(args.runs)]), "api": mode, "wire": security}
                asks.append(row)
                print(f"{mode:<6}{security:<7}{row['calls_s']:>9.0f}{row['client_ms_per_call']:>11.3f}"
                      f"{row['server_ms_per_call']:>11.3f}"
                      f"{row['client_ms_per_call'] + row['server_ms_per_call']:>8.3f}")
    stores = [store_cost(STORE_SHARES) for _ in range(args.runs)]
    store = _median(stores)
    print(f"store, {STORE_SHARES} x 4 MiB shares: {store['store_ms_per_mb']:.2f} ms of CPU per MB "
          f"({store['store_ms_per_share']:.2f} per share, blake3 verification included), "
          f"{store['store_mb_s']:.0f} MB/s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"size_mib": args.size_mib, "runs": args.runs,
                                                       "hash": args.hash, "rows": table, "calls": asks,
                                                       "store": store},
                                                      indent=1))


if __name__ == "__main__":
    main()
