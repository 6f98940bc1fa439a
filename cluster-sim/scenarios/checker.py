"""The checker: per key, the set of values a read may legally return, and what broke that.

Values are digests (blake3 hex of the payload) or ABSENT; payloads are never kept, because a
worker can regenerate any of them from (seed, key, version). Per key the checker keeps the legal
values and, among them, those some client was told were stored (acknowledged):

| event | legal values afterwards | acknowledged afterwards |
|---|---|---|
| put V acknowledged | {V} | {V} |
| put V failed or timed out | before ∪ {V} (it may or may not have landed) | before |
| delete acknowledged (or answered NOT_FOUND) | {ABSENT} | {ABSENT} |
| delete failed | before ∪ {ABSENT} | before |
| a read | unchanged | unchanged |

A read that returns a value outside the legal set is a wrong read, whatever the value is (wrong
bytes, an older version, a deleted object come back, NOT_FOUND for a stored one). At the end,
after the faults are over and redundancy is restored, every key is read once more: when the
answer is not legal and some acknowledged value was still legal, that acknowledged write is lost.

Rejected alternatives: a linearizability checker (Knossos-style) over the whole history. It would
also flag a failed put that is visible to one read and not the next, which Ringstore does not
promise (a put that failed may have reached some replicas); and its cost grows exponentially with
concurrency. Every key here has one writer, so the set rule is exact for what Ringstore promises.
Collapsing the set when a read sees one of the uncertain values was rejected for the same reason.

The keys' owners (one worker per key) make every key's operations sequential; the lock only
guards the shared lists and counters.
"""

from __future__ import annotations

import dataclasses
import threading

ABSENT = "absent"
ERROR = "error"  # a final read that got no answer: neither a value nor NOT_FOUND
LISTED_MAX = 20  # wrong reads and lost writes kept with their details; the rest are only counted


@dataclasses.dataclass(frozen=True)
class KeyState:
    legal: frozenset[str]
    acknowledged: frozenset[str]


INITIAL = KeyState(legal=frozenset({ABSENT}), acknowledged=frozenset())


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """A read that broke the rules: which key, what came back, what was allowed."""

    key: str
    observed: str
    legal: tuple[str, ...]
    at_s: float
    op: str  # "get", "delete" (a delete answered NOT_FOUND), "final"

    def line(self) -> str:
        allowed = ", ".join(_short(value) for value in self.legal)
        return f"{self.op} {self.key} at {self.at_s:.2f} s returned {_short(self.observed)}; legal: {allowed}"


def _short(value: str) -> str:
    return value if value in (ABSENT, ERROR) else value[:12]


class Checker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, KeyState] = {}
        self.wrong_reads = 0
        self.lost_writes = 0
        self.wrong_listed: list[Anomaly] = []
        self.lost_listed: list[Anomaly] = []

    def state(self, key: str) -> KeyState:
        with self._lock:
            return self._keys.get(key, INITIAL)

    def keys(self) -> list[str]:
        """Every key some operation touched, sorted."""
        with self._lock:
            return sorted(self._keys)

    def has_value(self, key: str) -> bool:
        """True when some legal value of the key is a stored object (an overwrite or delete has a target)."""
        return any(value != ABSENT for value in self.state(key).legal)

    # -- writes

    def put_acknowledged(self, key: str, digest: str) -> None:
        self._set(key, KeyState(frozenset({digest}), frozenset({digest})))

    def put_failed(self, key: str, digest: str) -> None:
        before = self.state(key)
        self._set(key, KeyState(before.legal | {digest}, before.acknowledged))

    def delete_acknowledged(self, key: str) -> None:
        self._set(key, KeyState(frozenset({ABSENT}), frozenset({ABSENT})))

    def delete_failed(self, key: str) -> None:
        before = self.state(key)
        self._set(key, KeyState(before.legal | {ABSENT}, before.acknowledged))

    def delete_not_found(self, key: str, *, at_s: float) -> None:
        """A delete answered NOT_FOUND: the object was absent, which must have been legal."""
        self.read(key, ABSENT, at_s=at_s, op="delete")
        self.delete_acknowledged(key)

    # -- reads

    def read(self, key: str, observed: str, *, at_s: float, op: str = "get") -> bool:
        """Check a read's answer (a digest or ABSENT); False (and counted) when it was not legal."""
        state = self.state(key)
        if observed in state.legal:
            return True
        anomaly = Anomaly(key, observed, tuple(sorted(state.legal)), at_s, op)
        with self._lock:
            self.wrong_reads += 1
            if len(self.wrong_listed) < LISTED_MAX:
                self.wrong_listed.append(anomaly)
        return False

    def final_read(self, key: str, observed: str, *, at_s: float) -> bool:
        """The read-back at the end: `observed` is a digest, ABSENT or ERROR. A value outside the
        legal set is a wrong read; any illegal answer while an acknowledged value is still legal
        is a lost write. Returns True when the answer was legal."""
        state = self.state(key)
        if observed in state.legal:
            return True
        anomaly = Anomaly(key, observed, tuple(sorted(state.legal)), at_s, "final")
        with self._lock:
            if observed != ERROR:
                self.wrong_reads += 1
                if len(self.wrong_listed) < LISTED_MAX:
                    self.wrong_listed.append(anomaly)
            if state.acknowledged - {ABSENT}:  # acknowledged values are always legal ones
                self.lost_writes += 1
                if len(self.lost_listed) < LISTED_MAX:
                    self.lost_listed.append(anomaly)
        return False

    def _set(self, key: str, state: KeyState) -> None:
        with self._lock:
            self._keys[key] = state
