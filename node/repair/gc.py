"""Garbage collection: delete the copies no live object version references any more.

Every copy keeps one reference row per object version it was stored for (`NodeStore.references`),
and `release_share` drops one row and deletes the copy when none is left. Collection is therefore
local: for each reference of each copy, ask the metadata replicas of the reference's key what they
hold under the reference's version id (`lookup`, one call per key and version id per pass) and
release the reference when `ref_verdict` says "collect". A copy stored without any reference is
deleted once it is older than the grace.

Versions (node/store/versions.py): a reference names a version id as well as a stamp, and the
rules below are about the manifest each replica keeps *under that id*, current or not. An
unversioned bucket has one id per key (the null version), so "the newest under the id" is the
key's newest version, as it always was. Under an id of a versioned put only a conversion (same
stamp, rewrite + 1) or a permanent delete (an erased record, stamped later) can replace the
version, so the versions a versioned bucket keeps behind its current ones stay live, and a version
deleted for good is superseded on every replica that holds its erased record.

Safety argument. A copy goes only when its last reference is released, and a reference is released
only on a "collect" verdict, so it is enough that no "collect" names a version a reader or a writer
may still need:

- Partial knowledge never collects. If a metadata home replica did not answer, it may be the one
  that holds the version the reference names, so the reference is kept.
- The newest version on the replicas is the reference's own (every stamp field equal, `rewrite`
  included): it is the object's current version, and the reference is live. A tombstone with that
  very stamp cannot come from our write paths; it is kept rather than guessed about.
- Every replica holds a strictly newer version: the reference's version can never be current again,
  since a replica keeps a manifest only if it is newer than the one it has (`put_manifest`), so a
  late write of the old version loses everywhere. The copy still waits out the grace, counted from
  the later of its storing and the newer version's creation, so a get that read the old manifest
  just before finishes its reads. Only SOME replicas newer (a tombstone on 2 of 3, at write quorum
  but not yet everywhere) keeps the reference: if the two were lost before the third heard of the
  delete, the third would serve the old version again and its chunks must still be there. This is
  DESIGN's "never before every replica of the tombstone is durable".
- No replica has any version, or the newest is older than the reference: the put (or conversion)
  that stamped the reference has not written its manifest yet, or died before it could. The
  coordinator refuses a put slower than half of `gc_grace_s`, so once the grace has passed since
  the put began, its manifest can no longer arrive, and the reference is dead. When it began is
  bounded by the copy's `stored_at_unix_ms` for the write that created the file, but a reference a
  later put added to an existing copy (content addressing dedups it) does not move `stored_at`.
  With `stored_at` alone, re-uploading the same bytes over a week-old object would see its new
  reference collected mid-put, and once the old version was superseded the copy would go with the
  new version still naming it. So the bound is also the put's stamp (`physical_ms`: a put is
  stamped when it starts). Clock skew between the coordinator and this node eats into the half of
  the grace a put may not use. A conversion keeps the original stamp (`rewrite` + 1), which says
  nothing about when it began: for those references the collector counts from the first pass that
  saw the reference ahead of the metadata (kept in memory, so a restart only restarts the wait).

Races: a manifest landing between the lookup and the release only makes a superseded reference more
superseded, and cannot be the manifest of a reference judged dead (its put is past its deadline). A
concurrent write that adds a reference to the copy keeps it alive: `release_share` removes only the
named reference and deletes the copy only when none is left, under the share's lock.

Rejected: mark and sweep over the cluster's manifests (list every live chunk, delete the rest). It
needs a consistent snapshot of all metadata at once and loses everything written during the sweep
unless writes pause; per-copy references let each node decide alone, asking only about the keys its
copies name. Rejected: collecting when a write quorum of metadata replicas has the newer version,
for the tombstone case above.

`ref_verdict` is the pure decision (a table-driven test covers every rule); `GarbageCollector` is
the step function that walks `NodeStore.iter_shares()` and the thin loop that drives it. A copy with
more than `REFERENCES_LIMIT_MAX` references has only the first that many examined per pass; releases
in one pass bring the rest into view of the next. Copies scrub quarantined are not in the index and
are left to repair.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from ringstore.v1 import common_pb2

from node.gossip.clock import Clock
from node.hlc import stamp_key
from node.store import NodeStore, ShareKey
from node.store.keys import ref_row_key

log = logging.getLogger("ringstore.repair")

LIVE = "live"
KEEP = "keep"
COLLECT = "collect"
# Distinct (tenant, bucket, key, version id) lookups remembered within one pass; past this the cache is dropped
# and keys met again are looked up again (more RPCs, never a wrong answer).
LOOKUP_CACHE_KEYS_MAX = 10_000
# Conversion references ahead of the metadata whose first sighting is remembered (see the module
# docstring). Past this, a new one is treated as first seen now on every pass, which keeps it:
# collection is delayed, never hastened.
AHEAD_REFS_TRACKED_MAX = 100_000
# Copies one step may examine.
GC_STEP_COPIES_MAX = 10_000
# How long `run` waits between looks for work when no pass is running.
GC_IDLE_WAIT_S = 0.2
# After a step fails unexpectedly (its error is logged and the pass abandoned), `run` waits this
# long before looking for work again, so a persistent fault logs once a minute, not in a tight loop.
GC_ERROR_BACKOFF_S = 60.0


class Verdict(NamedTuple):
    """What to do with one reference: LIVE, KEEP or COLLECT, and a one-line reason."""

    decision: str
    reason: str


@dataclasses.dataclass(frozen=True)
class KeyState:
    """What the metadata home replicas of one key say about it."""

    complete: bool  # every metadata home replica answered
    versions: tuple[common_pb2.Manifest | None, ...]  # per replica: its manifest of the version id, or None
    unreachable: tuple[str, ...] = ()  # node ids of the replicas that did not answer, for reasons

    def __post_init__(self) -> None:
        assert not (self.complete and self.unreachable), (
            f"KeyState is complete but names unreachable replicas {self.unreachable}")


def describe_stamp(stamp: common_pb2.VersionStamp) -> str:
    """`physical_ms.logical@node_id`, plus `+rN` for a rewrite: for reasons and logs."""
    text = f"{stamp.physical_ms}.{stamp.logical}@{stamp.node_id}"
    return f"{text}+r{stamp.rewrite}" if stamp.rewrite else text


def _newest(key: KeyState) -> common_pb2.Manifest | None:
    return max((m for m in key.versions if m is not None), key=lambda m: stamp_key(m.version),
               default=None)


def _newer_count(key: KeyState, ref_stamp: tuple[int, int, str, int]) -> int:
    """Metadata replicas holding a version strictly newer than `ref_stamp`."""
    return sum(1 for m in key.versions if m is not None and stamp_key(m.version) > ref_stamp)


def ahead_of_metadata(ref: common_pb2.ObjectRef, key: KeyState) -> bool:
    """True when the replicas answered and none holds the reference's version or a newer one: the
    put or conversion that stamped it has not written its manifest (yet)."""
    if not key.complete or not key.versions:
        return False
    newest = _newest(key)
    return newest is None or stamp_key(newest.version) < stamp_key(ref.version)


def ref_verdict(ref: common_pb2.ObjectRef, stored_at_unix_ms: int, key: KeyState,
                now_unix_ms: int, grace_s: float) -> Verdict:
    """Whether the copy holding `ref` still needs it (rules and their safety in the module
    docstring). `stored_at_unix_ms` must be no earlier than the start of the write that added the
    reference: the copy's own stored_at covers the write that created it and, for a put, the
    reference's stamp covers a dedup (taken into account here); for a conversion (`rewrite` > 0)
    the caller supplies the bound."""
    name = f"{ref.tenant}/{ref.bucket}/{ref.key}"
    grace_ms = round(grace_s * 1000)
    if not key.complete:
        who = ", ".join(key.unreachable) if key.unreachable else "(unnamed)"
        return Verdict(KEEP, f"metadata replica {who} of {name} unreachable; never collect on "
                             "partial knowledge")
    if not key.versions:
        return Verdict(KEEP, f"no metadata replicas known for {name}; nothing to judge by")
    ref_stamp = stamp_key(ref.version)
    newest = _newest(key)
    if newest is None or stamp_key(newest.version) < ref_stamp:
        since_ms = stored_at_unix_ms
        if ref.version.rewrite == 0:
            since_ms = max(since_ms, ref.version.physical_ms)
        held = ("no metadata replica has a version of it" if newest is None else
                f"the newest on its metadata replicas is older "
                f"({describe_stamp(newest.version)})")
        return _after_grace(since_ms + grace_ms, now_unix_ms,
                            f"version {describe_stamp(ref.version)} of {name} has no manifest: "
                            f"{held}; its write is running or died")
    if stamp_key(newest.version) == ref_stamp:
        if newest.tombstone:
            return Verdict(KEEP, f"the newest version of {name} has the reference's stamp "
                                 f"{describe_stamp(ref.version)} but is a tombstone; left alone")
        return Verdict(LIVE, f"version {describe_stamp(ref.version)} is current for {name}")
    newer = _newer_count(key, ref_stamp)
    by = f"{'tombstone' if newest.tombstone else 'version'} {describe_stamp(newest.version)}"
    if newer < len(key.versions):
        return Verdict(KEEP, f"version {describe_stamp(ref.version)} of {name} is superseded by "
                             f"{by} on only {newer} of {len(key.versions)} metadata replicas; "
                             "kept until every replica has a newer version")
    return _after_grace(max(stored_at_unix_ms, newest.created_at_unix_ms) + grace_ms, now_unix_ms,
                        f"version {describe_stamp(ref.version)} of {name} is superseded by {by} "
                        f"on all {len(key.versions)} metadata replicas")


def can_be_current(ref: common_pb2.ObjectRef, key: KeyState, now_unix_ms: int, grace_s: float) -> bool:
    """Whether the version a reference names may still be (or become) the object's current
    version. False only when every metadata replica answered with a strictly newer version (it
    can never win again), or none has its manifest and its put is past the grace (the put died).
    Repair asks this before copying a chunk back to a home: a copy only superseded versions need
    is garbage a collector is about to delete, not redundancy to restore. Unlike `ref_verdict`
    there is no grace for the superseded case: a get that read the old manifest still finds the
    copies that are left until their own collection."""
    if not key.complete or not key.versions:
        return True
    ref_stamp = stamp_key(ref.version)
    newest = _newest(key)
    if newest is None or stamp_key(newest.version) < ref_stamp:
        return ref.version.rewrite != 0 or now_unix_ms < ref.version.physical_ms + round(grace_s * 1000)
    return _newer_count(key, ref_stamp) < len(key.versions)


def some_can_be_current(refs: Iterable[common_pb2.ObjectRef], lookup: Callable[[str, str, str, bytes], KeyState],
                        now_unix_ms: int, grace_s: float) -> bool:
    """`can_be_current` for any of a copy's references, one lookup per key; a failed lookup or a
    copy without references counts as needed (repair is never skipped on partial knowledge)."""
    refs = list(refs)
    if not refs:
        return True
    states: dict[tuple[str, str, str, bytes], KeyState] = {}
    for ref in refs:
        name = (ref.tenant, ref.bucket, ref.key, ref.version_id)
        if name not in states:
            try:
                states[name] = lookup(*name)
            except Exception:  # noqa: BLE001 - any lookup failure means "do not know": keep
                return True
        if can_be_current(ref, states[name], now_unix_ms, grace_s):
            return True
    return False


def _after_grace(collectable_at_unix_ms: int, now_unix_ms: int, why: str) -> Verdict:
    if now_unix_ms >= collectable_at_unix_ms:
        return Verdict(COLLECT, f"{why}; grace over")
    left_s = math.ceil((collectable_at_unix_ms - now_unix_ms) / 1000)
    return Verdict(KEEP, f"{why}; collectable in {left_s} s")


@dataclasses.dataclass(frozen=True)
class GcStatus:
    """Whether a pass runs, and totals since the collector started."""

    running: bool
    copies_checked: int
    refs_released: int
    copies_collected: int
    bytes_collected: int
    lookups_failed: int  # lookups that raised; their keys' references were kept
    passes_completed: int
    last_pass_finished_unix_ms: int  # 0 if no pass has finished


class GarbageCollector:
    """Walks this node's copies and releases the references no live version needs (module
    docstring). One thread drives `step`; `status`, `request_pass` and `set_grace` may come from
    any thread."""

    def __init__(self, store: NodeStore, lookup: Callable[[str, str, str, bytes], KeyState],
                 clock: Clock, grace_s: float, interval_s: float) -> None:
        _check_grace(grace_s)
        if not interval_s > 0:
            raise ValueError(f"gc interval must be > 0 s (try 3600), got {interval_s}")
        self._store = store
        self._lookup = lookup
        self._clock = clock
        self._interval_s = interval_s
        self._node_id = store.load_node_id() or "?"
        self._lock = threading.Lock()
        self._grace_s = grace_s
        self._running = False
        self._next_auto_pass_s = clock.monotonic_s() + interval_s
        # Owned by the stepping thread.
        self._shares: Iterator[tuple[ShareKey, common_pb2.StoredShare]] | None = None
        self._pass_number = 0
        self._key_states: dict[tuple[str, str, str, bytes], KeyState | None] = {}  # None: lookup failed
        self._pass_lookup_error = ""
        self._pass_counts = _Counts()
        # Conversion references ahead of the metadata: ref row key -> (first seen unix ms, last pass
        # that saw it).
        self._ahead_first_seen: dict[bytes, tuple[int, int]] = {}
        self._totals = _Counts()
        self._passes_completed = 0
        self._last_pass_finished_unix_ms = 0

    # -- control (any thread) ----------------------------------------------------------------------

    def request_pass(self) -> bool:
        """Start a pass now; True if this call started one, False if one was already running."""
        with self._lock:
            if self._running:
                return False
            self._running = True
            return True

    def set_grace(self, grace_s: float) -> None:
        """Change the grace; applies from the next copy examined."""
        _check_grace(grace_s)
        with self._lock:
            self._grace_s = grace_s

    def needed(self, refs: Iterable[common_pb2.ObjectRef]) -> bool:
        """Whether a copy with these references may serve a current version (repair's question
        before copying it back to a home; see `can_be_current`)."""
        with self._lock:
            grace_s = self._grace_s
        return some_can_be_current(refs, self._lookup, self._clock.wall_ms(), grace_s)

    def status(self) -> GcStatus:
        with self._lock:
            t = self._totals
            return GcStatus(running=self._running, copies_checked=t.copies_checked,
                            refs_released=t.refs_released, copies_collected=t.copies_collected,
                            bytes_collected=t.bytes_collected, lookups_failed=t.lookups_failed,
                            passes_completed=self._passes_completed,
                            last_pass_finished_unix_ms=self._last_pass_finished_unix_ms)

    # -- work (one thread) -------------------------------------------------------------------------

    def step(self, max_copies: int = 256) -> bool:
        """Examine up to `max_copies` copies of the current pass (starting one if due); True while
        a pass is still running afterwards."""
        assert 1 <= max_copies <= GC_STEP_COPIES_MAX, f"max_copies {max_copies}"
        if self._store.metadata_health() != "ok":
            # Refilled after damage: copies re-indexed from their files have no references until
            # the refill brings them, and "no reference" must not read as "garbage" meanwhile.
            return False
        with self._lock:
            if not self._running and self._clock.monotonic_s() >= self._next_auto_pass_s:
                self._running = True
            if not self._running:
                return False
        if self._shares is None:
            self._begin_pass()
        assert self._shares is not None
        for _ in range(max_copies):
            item = next(self._shares, None)
            if item is None:
                self._finish_pass()
                return False
            self._examine(*item)
        return True

    def run(self, stop: threading.Event) -> None:
        """Step until `stop` is set, waiting GC_IDLE_WAIT_S between looks while idle."""
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:
                log.exception("node=%s gc step failed; pass abandoned, next look in %.0f s",
                              self._node_id, GC_ERROR_BACKOFF_S)
                self._end_pass(finished=False)
                stop.wait(GC_ERROR_BACKOFF_S)
                continue
            if not busy:
                stop.wait(GC_IDLE_WAIT_S)

    # -- internals ---------------------------------------------------------------------------------

    def _examine(self, share: ShareKey, info: common_pb2.StoredShare) -> None:
        """Release the references of one copy that no live version needs."""
        with self._lock:
            grace_s = self._grace_s
        self._count(copies_checked=1)
        now_ms = self._clock.wall_ms()
        refs = self._store.references(share)
        if not refs:
            if now_ms >= info.stored_at_unix_ms + round(grace_s * 1000):
                # A copy without references is deleted by its first release, whatever it names.
                if self._store.release_share(share, common_pb2.ObjectRef()).deleted:
                    self._count(copies_collected=1, bytes_collected=info.size_bytes)
            return
        for ref in refs:
            state = self._key_state(ref)
            if state is None:
                continue  # lookup failed: keep, and count it (done in _key_state)
            since_ms = info.stored_at_unix_ms
            if ref.version.rewrite and ahead_of_metadata(ref, state):
                since_ms = max(since_ms, self._first_seen_ahead(share, ref, now_ms))
            if ref_verdict(ref, since_ms, state, now_ms, grace_s).decision != COLLECT:
                continue
            outcome = self._store.release_share(share, ref)
            self._ahead_first_seen.pop(ref_row_key(share, ref), None)
            self._count(refs_released=1)
            if outcome.deleted:
                self._count(copies_collected=1, bytes_collected=info.size_bytes)
                return  # no reference is left: the rest of `refs` went meanwhile

    def _key_state(self, ref: common_pb2.ObjectRef) -> KeyState | None:
        """The metadata replicas' answer for the reference's key, once per pass; None when the
        lookup failed."""
        name = (ref.tenant, ref.bucket, ref.key, ref.version_id)
        if name in self._key_states:
            return self._key_states[name]
        if len(self._key_states) >= LOOKUP_CACHE_KEYS_MAX:
            self._key_states.clear()
        state: KeyState | None
        try:
            state = self._lookup(*name)
        except Exception as exc:  # any failure of the lookup is transient to us: keep and count
            state = None
            self._count(lookups_failed=1)
            if not self._pass_lookup_error:
                self._pass_lookup_error = f"{'/'.join(name[:3])}: {exc}"
        self._key_states[name] = state
        return state

    def _first_seen_ahead(self, share: ShareKey, ref: common_pb2.ObjectRef, now_ms: int) -> int:
        row = ref_row_key(share, ref)
        seen = self._ahead_first_seen.get(row)
        if seen is None and len(self._ahead_first_seen) >= AHEAD_REFS_TRACKED_MAX:
            return now_ms
        first_ms = now_ms if seen is None else seen[0]
        self._ahead_first_seen[row] = (first_ms, self._pass_number)
        return first_ms

    def _count(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self._totals, name, getattr(self._totals, name) + n)
                setattr(self._pass_counts, name, getattr(self._pass_counts, name) + n)

    def _begin_pass(self) -> None:
        self._pass_number += 1
        self._shares = self._store.iter_shares()
        self._key_states = {}
        self._pass_lookup_error = ""
        with self._lock:
            self._pass_counts = _Counts()

    def _finish_pass(self) -> None:
        # Forget conversion references no longer ahead of the metadata (live, released, gone).
        self._ahead_first_seen = {row: seen for row, seen in self._ahead_first_seen.items()
                                  if seen[1] == self._pass_number}
        counts = self._pass_counts
        log.info("node=%s gc pass done: %d copies checked, %d references released, %d copies "
                 "(%d bytes) collected, %d lookups failed%s", self._node_id, counts.copies_checked,
                 counts.refs_released, counts.copies_collected, counts.bytes_collected,
                 counts.lookups_failed,
                 f" (first: {self._pass_lookup_error})" if self._pass_lookup_error else "")
        self._end_pass(finished=True)

    def _end_pass(self, *, finished: bool) -> None:
        self._shares = None
        self._key_states = {}
        with self._lock:
            self._running = False
            self._next_auto_pass_s = self._clock.monotonic_s() + self._interval_s
            if finished:
                self._passes_completed += 1
                self._last_pass_finished_unix_ms = self._clock.wall_ms()


@dataclasses.dataclass
class _Counts:
    copies_checked: int = 0
    refs_released: int = 0
    copies_collected: int = 0
    bytes_collected: int = 0
    lookups_failed: int = 0


def _check_grace(grace_s: float) -> None:
    if not grace_s > 0:
        raise ValueError(f"gc grace must be > 0 s (try 86400), got {grace_s}")
