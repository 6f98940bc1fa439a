"""The seeded workload: worker threads doing puts, overwrites, gets and deletes through random live nodes.

Each worker owns the keys whose index modulo the worker count is its own, so the operations on a
key are sequential and the checker's legal-value sets are exact (see checker.py). A worker draws
everything from its own `random.Random(seed, worker)`: which operation, which key, which policy,
which node. Payloads are functions of (seed, key, version), so a value is kept as its blake3 digest
and can be regenerated to reproduce a wrong read; the digest, not the bytes, is compared.

Nodes are taken from a `NodePool`: the nodes the fault schedule has not withdrawn. Before it kills
or stops a node the schedule withdraws it and waits for the operations running through it to end,
the way a load balancer drains a backend; so a failed operation is the cluster's doing (a holder
that died, too few live nodes), never a client talking to a corpse. Failed operations are counted
by kind and gRPC status; what is allowed to fail is the scenario's `[expect]`.

Rejected alternative: one client per worker pinned to one node, as `nodectl` users do. Then a
kill would only ever be felt by the workers pinned to the victim, and most of the coordinator
paths (forwarding a manifest write, reading through a node that holds nothing) would go unused.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from typing import Any

import blake3

from cluster_sim.scenarios.checker import ABSENT, Checker
from cluster_sim.scenarios.spec import POLICY_RE, Workload
from nodectl.client import Client
from nodectl.errors import NotFound, RingstoreError

BUCKET = "scenario"
# The cold set's keys (cold.py) spread over buckets of their own: every manifest of a bucket lives on
# that bucket's preference list, so several buckets put some of its manifests on most nodes.
COLD_PREFIX = "cold-"
COLD_BUCKETS = 4
CLIENT_TIMEOUT_S = 30.0  # a put of a few MiB takes well under a second; a stalled node fails in this
CLIENT_RETRIES_MAX = 2  # UNAVAILABLE is retried on the same node; past that the op counts as failed
IDLE_WAIT_S = 0.1  # how long a worker waits when every node is withdrawn (a mass kill)
WITHDRAW_WAIT_S_MAX = 30.0  # longest an operation may keep a node the schedule wants to kill
FAILURE_EXAMPLES_MAX = 3  # first messages kept per kind of operation, to say why without a log dive


def payload(seed: int, key: str, version: int, size_bytes_min: int, size_bytes_max: int,
            compressible: float = 0.0) -> bytes:
    """The bytes of `key`'s `version`, a function of its arguments only. Sizes spread log-uniformly
    between the bounds, so small (inline) and multi-chunk objects both occur; a `compressible`
    share of versions are text-like (words from a small vocabulary), the rest random."""
    rng = random.Random(f"{seed}/{key}/{version}")
    low, high = size_bytes_min, size_bytes_max
    size = low if low == high else min(high, int(low * (high / low) ** rng.random()))
    if compressible and rng.random() < compressible:
        words = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(64)]
        text = b" ".join(rng.choices(words, k=size // 6 + 1))
        return text[:size]
    return rng.randbytes(size)


def digest(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def bucket_of(key: str) -> str:
    """The bucket a checked key lives in: `cold-NNNNN` in cold-1..cold-COLD_BUCKETS, the rest in BUCKET."""
    if key.startswith(COLD_PREFIX):
        return f"{COLD_PREFIX}{int(key[len(COLD_PREFIX):]) % COLD_BUCKETS + 1}"
    return BUCKET


def cold_buckets() -> list[str]:
    return [f"{COLD_PREFIX}{index}" for index in range(1, COLD_BUCKETS + 1)]


def policy_arguments(policy: str) -> dict[str, Any]:
    """"replicas=3" -> {"replicas": 3}; "ec=2+1" -> {"ec": (2, 1)} (validated by spec.py)."""
    match = POLICY_RE.fullmatch(policy)
    assert match is not None, policy
    if match.group(1):
        return {"replicas": int(match.group(1))}
    return {"ec": (int(match.group(2)), int(match.group(3)))}


class NodePool:
    """The nodes operations may go through, with a count of operations in flight on each."""

    def __init__(self, addresses: dict[str, str], *, clock: Callable[[], float]) -> None:
        self._addresses = dict(addresses)
        self._available = set(addresses)
        self._in_flight = {node_id: 0 for node_id in addresses}
        self._changed = threading.Condition()
        self._clock = clock

    def available(self) -> list[str]:
        with self._changed:
            return sorted(self._available)

    def address(self, node_id: str) -> str:
        with self._changed:
            return self._addresses[node_id]

    def acquire(self, rng: random.Random) -> tuple[str, str] | None:
        """A random available node (id, address), counted in flight until `release`; None if none."""
        with self._changed:
            if not self._available:
                return None
            node_id = rng.choice(sorted(self._available))
            self._in_flight[node_id] += 1
            return node_id, self._addresses[node_id]

    def release(self, node_id: str) -> None:
        with self._changed:
            self._in_flight[node_id] -= 1
            self._changed.notify_all()

    def withdraw(self, node_ids: list[str], *, timeout_s: float = WITHDRAW_WAIT_S_MAX) -> None:
        """Stop handing out these nodes and wait (at most timeout_s) for their operations to end."""
        deadline_s = self._clock() + timeout_s
        with self._changed:
            self._available.difference_update(node_ids)
            while any(self._in_flight[node_id] for node_id in node_ids):
                left_s = deadline_s - self._clock()
                if left_s <= 0:
                    break  # the operation will fail when its node goes; that is counted, not hidden
                self._changed.wait(left_s)

    def restore(self, node_ids: list[str], addresses: dict[str, str]) -> None:
        """Hand these nodes out again (at their current addresses)."""
        with self._changed:
            self._addresses.update(addresses)
            self._available.update(node_ids)


@dataclasses.dataclass
class OpCounts:
    done: int = 0
    failed: int = 0
    # gRPC status name -> failures with it.
    failed_by_code: dict[str, int] = dataclasses.field(default_factory=dict)
    # The first few failure messages, as the node worded them.
    examples: list[str] = dataclasses.field(default_factory=list)


class OpStats:
    """Operations done and failed, by kind (put, overwrite, get, delete, fill, cold, final)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kinds: dict[str, OpCounts] = {}
        # (start_s, end_s, size_bytes) of every put attempted: what a node that was down missed.
        self.puts: list[tuple[float, float, int]] = []

    def done(self, kind: str) -> None:
        with self._lock:
            self.kinds.setdefault(kind, OpCounts()).done += 1

    def failed(self, kind: str, err: RingstoreError) -> None:
        with self._lock:
            counts = self.kinds.setdefault(kind, OpCounts())
            counts.failed += 1
            counts.failed_by_code[err.code.name] = counts.failed_by_code.get(err.code.name, 0) + 1
            if len(counts.examples) < FAILURE_EXAMPLES_MAX:
                counts.examples.append(f"{err.code.name}: {err.message}")

    def put_attempted(self, start_s: float, end_s: float, size_bytes: int) -> None:
        with self._lock:
            self.puts.append((start_s, end_s, size_bytes))


class Writer:
    """Puts, deletes and reads of checked keys through one node pool; used by workers and by the
    schedule's `fill`. Not shared between threads (its clients are, through `clients`)."""

    def __init__(self, *, seed: int, workload: Workload, pool: NodePool, checker: Checker, stats: OpStats,
                 clients: ClientCache, clock: Callable[[], float], rng: random.Random) -> None:
        self.seed = seed
        self.workload = workload
        self.pool = pool
        self.checker = checker
        self.stats = stats
        self.clients = clients
        self.clock = clock
        self.rng = rng
        self.versions: dict[str, int] = {}

    def put(self, key: str, kind: str, *, policy: str, size_bytes: int | None = None) -> bool | None:
        """Store a new version of `key`; True acknowledged, False failed, None no node available."""
        version = self.versions.get(key, 0) + 1
        self.versions[key] = version
        low, high = ((size_bytes, size_bytes) if size_bytes is not None
                     else (self.workload.size_bytes_min, self.workload.size_bytes_max))
        data = payload(self.seed, key, version, low, high, self.workload.compressible)
        value = digest(data)
        target = self.pool.acquire(self.rng)
        if target is None:
            return None
        node_id, address = target
        start_s = self.clock()
        try:
            self.clients.get(address).put(bucket_of(key), key, data, **policy_arguments(policy))
        except RingstoreError as err:
            self.checker.put_failed(key, value)
            self.stats.failed(kind, err)
            return False
        else:
            self.checker.put_acknowledged(key, value)
            self.stats.done(kind)
            return True
        finally:
            self.stats.put_attempted(start_s, self.clock(), len(data))
            self.pool.release(node_id)

    def delete(self, key: str) -> None:
        target = self.pool.acquire(self.rng)
        if target is None:
            return
        node_id, address = target
        try:
            self.clients.get(address).delete(bucket_of(key), key)
        except NotFound:
            self.checker.delete_not_found(key, at_s=self.clock())
            self.stats.done("delete")
        except RingstoreError as err:
            self.checker.delete_failed(key)
            self.stats.failed("delete", err)
        else:
            self.checker.delete_acknowledged(key)
            self.stats.done("delete")
        finally:
            self.pool.release(node_id)

    def read(self, key: str, kind: str) -> str | None:
        """Read `key` through a random node: its digest, ABSENT, or None when the read failed or no
        node was available (a failure is counted under `kind`)."""
        target = self.pool.acquire(self.rng)
        if target is None:
            return None
        node_id, address = target
        try:
            observed = digest(self.clients.get(address).get_bytes(bucket_of(key), key))
        except NotFound:
            observed = ABSENT
        except RingstoreError as err:
            self.stats.failed(kind, err)
            return None
        finally:
            self.pool.release(node_id)
        self.stats.done(kind)
        return observed


class ClientCache:
    """One nodectl Client per node address, shared by every thread (Client is thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._options: dict = {}

    def use(self, options: dict) -> None:
        """The TLS arguments of every Client made from now on (the cluster's `client_options()`)."""
        with self._lock:
            self._options = dict(options)

    def get(self, address: str) -> Client:
        with self._lock:
            client = self._clients.get(address)
            if client is None:
                client = Client(address=address, timeout_s=CLIENT_TIMEOUT_S, retries_max=CLIENT_RETRIES_MAX,
                                **self._options)
                self._clients[address] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def worker_keys(workload: Workload, index: int) -> list[str]:
    """The keys worker `index` owns."""
    return [f"k-{key:05d}" for key in range(index, workload.keys, workload.workers)]


def run_worker(writer: Writer, keys: list[str], stop: threading.Event) -> None:
    """One worker's loop until `stop` is set: pick an operation by weight, a key it fits, go.

    Paced to the workload's ops_per_s share of this worker (0: back to back)."""
    workload = writer.workload
    kinds = [kind for kind in workload.ops if workload.ops[kind] > 0]
    weights = [workload.ops[kind] for kind in kinds]
    interval_s = workload.workers / workload.ops_per_s if workload.ops_per_s else 0.0
    next_s = writer.clock()
    rng = writer.rng
    while not stop.is_set():
        if interval_s:
            if stop.wait(max(0.0, next_s - writer.clock())):
                return
            next_s = max(next_s + interval_s, writer.clock() - interval_s)  # no burst after a stall
        if not writer.pool.available():
            stop.wait(IDLE_WAIT_S)
            continue
        kind = rng.choices(kinds, weights)[0]
        stored = [key for key in keys if writer.checker.has_value(key)]
        empty = [key for key in keys if not writer.checker.has_value(key)]
        if kind in ("overwrite", "delete") and not stored:
            kind = "put"
        if kind == "put" and not empty:
            kind = "overwrite"
        if kind in ("put", "overwrite"):
            key = rng.choice(empty if kind == "put" else stored)
            writer.put(key, kind, policy=rng.choice(workload.policies))
        elif kind == "delete":
            writer.delete(rng.choice(stored))
        else:
            key = rng.choice(keys)
            observed = writer.read(key, "get")
            if observed is not None:
                writer.checker.read(key, observed, at_s=writer.clock())
