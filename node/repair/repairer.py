"""The repair loop: scan this node's placement records, restore what is below full redundancy, move
what is away from home, and drop surplus copies.

Design. Every holder of a chunk keeps its placement record, so the records a node holds are exactly
the chunk layouts it may need to act on; nothing else has to be listed or remembered. A *scan* walks
them in batches. For each layout it computes the chunk's ring order and the node responsible for it
(`plan.responsible_node`: the first ALIVE holder in ring order whose store is older than the record,
so a holder whose disk was replaced leaves it to the next). The responsible node asks every live
node concerned (homes and named holders) which copies it has (HasChunk, batched per node across the
whole batch of layouts), plans the layout (`plan.plan_layout`) and queues the work. A holder that is
not responsible asks the same questions only when its own copy looks surplus by the record, since
it must see every home holding its copy before it may drop its own.

One scan therefore finds every kind of work the design names, without a separate path for each:
- a node turned OUT left the ring, so its slots have new homes that lack copies (repair);
- a node joined, so some slots have new homes (rebalancing), and the old holders become surplus;
- a DOWN node came back, so its home slot is ALIVE again: its handoff copy is copied back if the node
  lacks it, and is surplus once the node has it (handoff return);
- a copy was quarantined by scrub or a read, or a disk lost files: the probe finds it absent.
A membership change or a damage report triggers a scan at once; otherwise one runs every
`repair_scan_interval_s`.

Work is done worst-first (fewest surviving copies or shares above the readable minimum), by
`repair_concurrency_max` workers, throttled to `repair_bandwidth_bytes_per_s` of written bytes. The
loop's round starts work for at most one scan interval and returns with it still running, so scans
(and the status they feed) stay fresh however slow the throttle makes the copies; rejected: a round
that waits for all its work, which under a tight throttle left `repair status` reporting a scan
from long before, next to an `fsck` that saw more.
A copy is made from a surviving copy of the same slot when one exists (verified against its recorded
blake3), otherwise (erasure coding) from any K verified shares: decode, check the chunk id,
re-encode, keep the missing share. The new copy carries every reference of its sources, so garbage
collection releases it exactly when it would have released the original. A chunk whose references
all name superseded versions (`gc.can_be_current`) is not copied at all: a delete's copies are
collected holder by holder, and without this check the first holder to collect would get its copy
back from a holder that had not collected yet. Then the new placement
record goes to every holder it names. Surplus copies are dropped by their own holder, and only when
the plan is complete (every slot verified on its ALIVE target in this scan) and the ring has not
changed for `ring_settle_s`.

A layout that cannot be restored (too few shares left, no intact copy, too few ring members) is
listed with its reason and retried with exponential back-off, never silently dropped or spun on.

Full disks: the nodes gossip calls full are read once per scan batch and planned as nodes that take
no new copies (`plan_layout(can_take=...)`): a full home keeps its slot and the copies it holds, a
copy it lacks waits where it is, and a lost one goes to a stand-in as a handoff for it. A target
that refuses a copy anyway (its disk filled before its gossip said so) is an ordinary failure of
that layout, retried with back-off.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator

import blake3

from node import errors
from node.config import RepairConfig
from node.erasure import Geometry, chunk_id_of, decode, encode
from node.gossip.clock import Clock
from node.metrics import Metrics
from node.objects.replicas import ClusterView, HolderError, Replicas, probe_holders
from node.repair.plan import (Layout, LayoutPlan, Move, plan_layout, preferred_homes, record_presence,
                              recorded_slots, responsible_node)
from node.repair.queue import RepairQueue
from node.repair.throttle import RateMeter, TokenBucket
from node.ring import chunk_position
from node.store import NodeStore, ShareKey
from ringstore.v1 import common_pb2

log = logging.getLogger("ringstore.repair")

# Placement records planned per batch: bounds the memory of a scan and the size of HasChunk calls.
SCAN_BATCH_RECORDS = 512
# Most unrepairable layouts remembered for `nodectl repair status`.
UNREPAIRABLE_LISTED_MAX = 1000
# Back-off between attempts at an unrepairable layout: doubles from one scan interval up to this.
RETRY_BACKOFF_MAX_S = 600.0
# An unrepairable layout is logged on its first failure and then every this many attempts.
FAILURE_LOG_EVERY = 10
# A scan started by a trigger waits this long first, so a burst of membership changes is one scan.
TRIGGER_DEBOUNCE_S = 0.2
# A layout found to serve only superseded versions is looked at again after this long (sooner if its
# placement record changes), in case a put of the same bytes gave it a new reference meanwhile.
GARBAGE_RECHECK_S = 600.0


@dataclasses.dataclass
class _Failure:
    policy: str
    reason: str
    attempts: int
    last_attempt_unix_ms: int
    retry_at_s: float


class _Superseded(Exception):
    """Every version a layout's copies serve is superseded: nothing to restore."""


@dataclasses.dataclass(frozen=True)
class _GarbageMark:
    """A layout repair found serving only superseded versions: not debt, not copied back."""

    record_updated_at_unix_ms: int  # the placement record it was judged under
    recheck_at_s: float


@dataclasses.dataclass(frozen=True)
class Work:
    record: common_pb2.PlacementRecord
    plan: LayoutPlan
    responsible: bool
    # Own copies (slot) to drop once the work is done and the plan is complete.
    drop_slots: tuple[int, ...]
    # The record's holders differ from what the plan says they are (to be rewritten).
    record_stale: bool = False

    @property
    def to_do(self) -> bool:
        return bool(self.drop_slots) or (self.responsible and (bool(self.plan.moves) or self.record_stale))

    def urgency(self) -> tuple[int, int]:
        return (self.plan.present - self.plan.layout.needed, self.plan.present)


@dataclasses.dataclass(frozen=True)
class LevelCount:
    policy: str
    present: int
    wanted: int
    needed: int
    chunks: int
    bytes_missing: int


@dataclasses.dataclass(frozen=True)
class RepairStatus:
    levels: tuple[LevelCount, ...]
    chunks_below_full: int
    bytes_left: int
    rate_bytes_per_s: float
    eta_s: float
    bytes_repaired_total: int
    copies_repaired_total: int
    chunks_misplaced: int
    copies_dropped_total: int
    unrepairable: tuple[tuple[bytes, _Failure], ...]
    last_scan_unix_ms: int
    last_scan_s: float
    chunks_responsible: int
    repair_bandwidth_bytes_per_s: int
    repair_concurrency_max: int
    queued: int


class Repairer:
    """See the module docstring. `run()` is the loop; `scan_and_repair()` one full round."""

    def __init__(self, *, view: ClusterView, store: NodeStore, replicas: Replicas, clock: Clock,
                 config: RepairConfig, queue: RepairQueue, metrics: Metrics | None,
                 ring_changed_at_s: Callable[[], float],
                 needed: Callable[[list[common_pb2.ObjectRef]], bool] = lambda refs: True) -> None:
        self._view = view
        self._needed = needed
        self._store = store
        self._replicas = replicas
        self._clock = clock
        self._config = config
        self._queue = queue
        self._metrics = metrics
        self._ring_changed_at_s = ring_changed_at_s
        self._concurrency = config.repair_concurrency_max
        self._bucket = TokenBucket(config.repair_bandwidth_bytes_per_s, clock)
        self._rate = RateMeter(clock)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._failures: dict[tuple, _Failure] = {}
        # Layouts whose every version is superseded: garbage the holders' collectors will delete
        # (after gc_grace_s, a day by default). They are not below full redundancy in any sense a
        # reader cares about, so the status leaves them out and the loop does not re-read them.
        self._garbage: dict[tuple, _GarbageMark] = {}
        # Layouts the scan under way could not decide about (young record, a holder not answering).
        self._undecided: set[tuple] = set()
        # Layouts whose work runs now (it may outlive the round that started it), and that work.
        self._in_flight: set[tuple] = set()
        self._running: set[cf.Future] = set()
        # The last round ran out of time before starting all it found (the loop scans again at once).
        self._left_over = False
        self._pending: dict[tuple, Work] = {}
        self._bytes_repaired = 0
        self._copies_repaired = 0
        self._copies_dropped = 0
        self._last_scan_unix_ms = 0
        self._last_scan_s = 0.0
        self._responsible = 0
        self._misplaced = 0
        self._pool = cf.ThreadPoolExecutor(max_workers=16, thread_name_prefix="repair")

    # -- control --------------------------------------------------------------------------------

    def trigger(self, *_args: object) -> None:
        """Start a scan soon (a membership change, a damage report, an operator)."""
        self._wake.set()

    def set_bandwidth(self, bytes_per_s: int) -> None:
        if bytes_per_s < 0:
            raise errors.InvalidArgument(f"repair bandwidth must be >= 0 bytes/s (0 = unthrottled), got {bytes_per_s}")
        self._bucket.set_rate(bytes_per_s)

    def set_concurrency(self, count: int) -> None:
        if not 1 <= count <= 64:
            raise errors.InvalidArgument(f"repair concurrency must be in 1..64, got {count}")
        self._concurrency = count

    def run(self, stop: threading.Event) -> None:
        left_over = False
        while not stop.is_set():
            if not left_over:  # work the last round had no time for is found again by a scan now
                self._wake.wait(self._config.repair_scan_interval_s)
                if stop.is_set():
                    return
                if self._wake.is_set():
                    stop.wait(TRIGGER_DEBOUNCE_S)
            self._wake.clear()
            try:
                self.scan_and_repair(stop, work_for_s=self._config.repair_scan_interval_s)
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round; it is logged
                log.exception("repair round failed")
            left_over = self._left_over

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- one round ------------------------------------------------------------------------------

    def scan_and_repair(self, stop: threading.Event | None = None, work_for_s: float | None = None) -> int:
        """Scan every local placement record, then do the work found, worst first. Returns the
        number of layouts whose work was started.

        Without `work_for_s` the round waits for all its work. With it (the loop), the round starts
        work for at most that long and returns, leaving what it started running: a throttled repair
        holds no scan back, so the next scan (and `repair status`, which reports what the last scan
        found) sees damage that appeared meanwhile. Layouts still in flight are not started twice;
        what a round had no time to start is found again by the next scan (`_left_over`)."""
        self._queue.take(len(self._queue) + 1)  # a scan covers every report: the probes see the damage
        started_s = self._clock.monotonic_s()
        self._undecided = set()
        work = list(self._scan())
        work.sort(key=Work.urgency)
        garbage = self._known_garbage(work)
        # A listed failure is this node's to report only while the layout is still its work: once
        # another node is responsible (a holder came back, or its store is older than the record)
        # or the record is gone, the entry would be reported for ever, stale, next to that node's
        # own view. Layouts this scan could not decide (young record, a holder not answering) keep it.
        keep = self._undecided | {self._layout_id(w.plan.layout) for w in work if w.responsible or w.drop_slots}
        with self._lock:
            self._failures = {lid: f for lid, f in self._failures.items() if lid in keep}
            self._pending = {self._layout_id(w.plan.layout): w for w in work
                             if w.drop_slots or (w.responsible and (w.plan.moves or w.plan.below_full)
                                                 and self._layout_id(w.plan.layout) not in garbage)}
            self._last_scan_unix_ms = self._clock.wall_ms()
            self._last_scan_s = self._clock.monotonic_s() - started_s
            for w in work:  # a layout found healthy again is no longer a failure
                if w.responsible and not w.to_do and not w.plan.unrepairable:
                    self._failures.pop(self._layout_id(w.plan.layout), None)
            in_flight = set(self._in_flight)
        todo = [w for w in work if w.to_do and self._due(w) and self._layout_id(w.plan.layout) not in in_flight
                and (self._layout_id(w.plan.layout) not in garbage or w.drop_slots
                     or self._clock.monotonic_s() >= garbage[self._layout_id(w.plan.layout)].recheck_at_s)]
        if todo:
            below = sum(1 for w in work
                        if w.responsible and w.plan.below_full and self._layout_id(w.plan.layout) not in garbage)
            log.info("repair scan: %d layouts to work on (%d below full redundancy, %d in flight), %d left "
                     "undecided (record too young or a holder did not answer), %d serving only superseded "
                     "versions (left to garbage collection)", len(todo), below, len(in_flight),
                     len(self._undecided), len(garbage))
        deadline_s = None if work_for_s is None else self._clock.monotonic_s() + work_for_s
        done = 0
        running = {f for f in self._running if not f.done()}
        self._left_over = False
        for item in todo:
            if stop is not None and stop.is_set():
                break
            while len(running) >= self._concurrency:
                left_s = None if deadline_s is None else max(0.0, deadline_s - self._clock.monotonic_s())
                running = cf.wait(running, timeout=left_s, return_when=cf.FIRST_COMPLETED).not_done
                if left_s == 0.0:
                    break
            if len(running) >= self._concurrency:  # out of time: the next scan finds the rest
                self._left_over = True
                break
            lid = self._layout_id(item.plan.layout)
            with self._lock:
                self._in_flight.add(lid)
            running.add(self._pool.submit(self._work_tracked, item, lid))
            done += 1
        if deadline_s is None:
            cf.wait(running)
            running = set()
        self._running = running
        return done

    def _known_garbage(self, work: list[Work]) -> dict[tuple, _GarbageMark]:
        """The marks that still hold for this scan's layouts; the rest are forgotten (the layout is
        gone, collected, or its placement record changed since it was judged)."""
        records = {self._layout_id(w.plan.layout): w.record.updated_at_unix_ms for w in work}
        with self._lock:
            self._garbage = {lid: mark for lid, mark in self._garbage.items()
                             if records.get(lid) == mark.record_updated_at_unix_ms}
            return dict(self._garbage)

    def _work_tracked(self, work: Work, lid: tuple) -> None:
        try:
            self._work_one(work)
        finally:
            with self._lock:
                self._in_flight.discard(lid)

    def _due(self, work: Work) -> bool:
        failure = self._failures.get(self._layout_id(work.plan.layout))
        return failure is None or self._clock.monotonic_s() >= failure.retry_at_s

    @staticmethod
    def _layout_id(layout: Layout) -> tuple:
        return (layout.chunk_id, layout.data_shares, layout.parity_shares)

    # -- scan -----------------------------------------------------------------------------------

    def _scan(self) -> Iterator[Work]:
        responsible = misplaced = 0
        for batch in _batches(self._store.iter_placements(), SCAN_BATCH_RECORDS):
            for work in self._scan_batch(batch):
                responsible += work.responsible
                misplaced += work.responsible and work.plan.misplaced
                yield work
        with self._lock:
            self._responsible = responsible
            self._misplaced = misplaced

    def _scan_batch(self, records: list[common_pb2.PlacementRecord]) -> list[Work]:
        me = self._view.node_id
        ring = self._view.ring()
        live = self._view.is_live
        full = self._view.full_nodes()

        def can_take(node_id: str) -> bool:
            return node_id not in full

        candidates = []
        asks: dict[str, set[ShareKey]] = {}
        # A record written this recently may belong to a put still storing its copies: a probe would
        # find them missing, and repair would copy them again or drop a holder from the record.
        young_after_ms = self._clock.wall_ms() - int(self._config.ring_settle_s * 1000)
        for record in records:
            layout = Layout.of_record(record)
            if layout.wanted == 0:
                continue
            if record.updated_at_unix_ms > young_after_ms:
                self._undecided.add(self._layout_id(layout))
                continue
            order = ring.ordered_nodes(chunk_position(layout.chunk_id))
            named = [h.node_id for h in record.holders]
            is_responsible = responsible_node(order, named, live, self._presence(record)) == me
            mine = self._store.layout_shares(layout.chunk_id, layout.data_shares, layout.parity_shares)
            if not is_responsible:
                if not mine:
                    continue
                recorded = recorded_slots(record, layout)
                guess = plan_layout(layout, order, live, recorded, recorded, preferred_homes(record, layout),
                                    can_take)
                if not any(node == me for _, node in guess.surplus):
                    continue
            involved = {n for n in list(order[:layout.wanted]) + named + [me] if live(n)}
            for node in involved:
                asks.setdefault(node, set()).update(layout.probe_keys())
            candidates.append((record, layout, order, is_responsible, involved))
        answers = self._probe(asks)
        out = []
        for record, layout, order, is_responsible, involved in candidates:
            if any(node not in answers for node in involved):
                self._undecided.add(self._layout_id(layout))
                continue  # a node did not answer: decide nothing about this layout this round
            present = [(key.share_index or 0, node) for node in involved
                       for key in layout.probe_keys() if key in answers[node]]
            recorded = recorded_slots(record, layout)
            plan = plan_layout(layout, order, live, present, recorded, preferred_homes(record, layout), can_take)
            drop = tuple(slot for slot, node in plan.surplus if node == me) if plan.complete else ()
            if is_responsible and plan.unrepairable:
                self._note_failure(layout, plan.unrepairable, retry=False)
            out.append(Work(record=record, plan=plan, responsible=is_responsible, drop_slots=drop,
                            record_stale=is_responsible and _record_stale(record, plan)))
        return out

    def _presence(self, record: common_pb2.PlacementRecord) -> Callable[[str], int]:
        """How sure it is that a node's store holds `record` (plan.record_presence)."""
        return lambda node: record_presence(record.updated_at_unix_ms, self._view.store_of(node)[1])

    def _probe(self, asks: dict[str, set[ShareKey]]) -> dict[str, set[ShareKey]]:
        """node -> the keys it has, for every node that answered."""
        answers, failures = probe_holders(self._replicas, asks, self._pool)
        for node, err in failures.items():
            log.info("repair probe of %s failed: %s", node, err)
        return answers

    # -- work -----------------------------------------------------------------------------------

    def _work_one(self, work: Work) -> None:
        layout = work.plan.layout
        lid = self._layout_id(layout)
        try:
            if work.responsible and (work.plan.moves or work.record_stale):
                self._repair(work)
            if work.drop_slots and self._settled():
                for slot in work.drop_slots:
                    if self._store.drop_copy(layout.key(slot)):
                        self._count_dropped(layout)
        except (HolderError, errors.RingstoreError) as err:
            self._note_failure(layout, str(err), retry=True)
            return
        except Exception as err:  # noqa: BLE001 - one bad chunk must not stop the round; logged
            log.exception("repair of chunk %s failed", layout.chunk_id.hex()[:16])
            self._note_failure(layout, f"internal error: {err}", retry=True)
            return
        if not work.plan.unrepairable:
            with self._lock:
                self._failures.pop(lid, None)
                self._pending.pop(lid, None)

    def _settled(self) -> bool:
        return self._clock.monotonic_s() - self._ring_changed_at_s() >= self._config.ring_settle_s

    def _repair(self, work: Work) -> None:
        plan, record = work.plan, work.record
        layout = plan.layout
        new_record = common_pb2.PlacementRecord()
        new_record.CopyFrom(record)
        new_record.ClearField("holders")
        new_record.holders.extend(plan.holders_after(record, plan.moves))
        new_record.updated_at_unix_ms = self._clock.wall_ms()
        made: list[Move] = []
        rebuilt: dict[int, tuple[bytes, list]] | None = None
        try:
            for move in plan.moves:
                key = layout.key(move.slot)
                copied = self._copy_from(layout, record, move) if move.sources else None
                if copied is None:
                    if rebuilt is None:
                        rebuilt = self._rebuild(plan, record)
                    copied = rebuilt[move.slot]
                data, refs = copied
                if not made and not self._needed(refs):
                    raise _Superseded()
                self._bucket.acquire(len(data))
                digest = layout.chunk_id if not layout.erasure else blake3.blake3(data).digest()
                self._replicas.store_share(move.target, key, data, new_record, digest, move.handoff_for, None, refs)
                made.append(move)
                self._count_repaired(layout, len(data))
        except _Superseded:
            # Its copies are garbage the holders' collectors delete; copying one back would only be
            # collected again.
            self._mark_garbage(layout, record)
            return
        if made:
            with self._lock:
                self._garbage.pop(self._layout_id(layout), None)
        if made != list(plan.moves):
            new_record.ClearField("holders")
            new_record.holders.extend(plan.holders_after(record, made))
        for holder in {h.node_id for h in new_record.holders}:
            if self._view.is_live(holder):  # never over a record a put wrote since the scan
                self._replicas.put_placement(holder, new_record, record.updated_at_unix_ms)

    def _copy_from(self, layout: Layout, record: common_pb2.PlacementRecord,
                   move: Move) -> tuple[bytes, list] | None:
        """A verified copy of the slot from one of its sources, with its references; None when none
        could be read under erasure coding (the caller rebuilds from other shares)."""
        key = layout.key(move.slot)
        expected = _recorded_hash(record, layout, move.slot)
        failures = []
        sources = sorted(move.sources, key=lambda n: n != self._view.node_id)
        for source in sources:
            try:
                data, refs = self._replicas.fetch_share_refs(source, key)
            except HolderError as err:
                failures.append(f"{source}: {err.detail}")
                continue
            ok = chunk_id_of(data) == layout.chunk_id if not layout.erasure else (
                expected is not None and blake3.blake3(data).digest() == expected)
            if ok:
                return data, refs
            failures.append(f"{source}: copy does not match its recorded blake3")
        if layout.erasure:
            return None
        raise errors.Unavailable(f"chunk {layout.chunk_id.hex()[:16]} ({layout.policy_text}) slot {move.slot}: "
                                 f"no source copy could be read ({'; '.join(failures)})")

    def _rebuild(self, plan: LayoutPlan, record: common_pb2.PlacementRecord) -> dict[int, tuple[bytes, list]]:
        """Every share of a stripe, re-encoded from K verified shares; with the union of their refs."""
        layout = plan.layout
        geometry = Geometry(layout.data_shares, layout.parity_shares)
        good: dict[int, bytes] = {}
        refs: dict[bytes, common_pb2.ObjectRef] = {}
        failures = []
        for slot, nodes in sorted(plan.held.items()):
            if len(good) >= layout.data_shares:
                break
            expected = _recorded_hash(record, layout, slot)
            for node in nodes:
                if not self._view.is_live(node) or expected is None:
                    continue
                try:
                    data, found = self._replicas.fetch_share_refs(node, layout.key(slot))
                except HolderError as err:
                    failures.append(f"share {slot} on {node}: {err.detail}")
                    continue
                if blake3.blake3(data).digest() != expected:
                    failures.append(f"share {slot} on {node}: blake3 mismatch")
                    continue
                good[slot] = data
                for ref in found:
                    refs[ref.SerializeToString(deterministic=True)] = ref
                break
        if len(good) < layout.data_shares:
            if good and not self._needed(list(refs.values())):
                raise _Superseded()  # collectors got to some shares first: nothing to rebuild
            raise errors.DataLoss(
                f"chunk {layout.chunk_id.hex()[:16]} ({layout.policy_text}): only {len(good)} of the "
                f"{layout.data_shares} shares needed to rebuild could be read"
                + (f" ({'; '.join(failures)})" if failures else ""))
        chunk = decode(good, geometry, layout.size_bytes)
        if chunk_id_of(chunk) != layout.chunk_id:
            raise errors.DataLoss(f"chunk {layout.chunk_id.hex()[:16]}: shares {sorted(good)} decode to bytes "
                                  "that do not match the chunk id")
        if self._metrics is not None:
            self._metrics.erasure_decode_bytes.inc(layout.size_bytes)
        shares = encode(chunk, geometry)
        ref_list = list(refs.values())
        return {i: (bytes(share), ref_list) for i, share in enumerate(shares)}

    # -- bookkeeping ----------------------------------------------------------------------------

    def _mark_garbage(self, layout: Layout, record: common_pb2.PlacementRecord) -> None:
        lid = self._layout_id(layout)
        with self._lock:
            known = lid in self._garbage
            self._garbage[lid] = _GarbageMark(record.updated_at_unix_ms,
                                              self._clock.monotonic_s() + GARBAGE_RECHECK_S)
            self._pending.pop(lid, None)
            self._failures.pop(lid, None)
        if not known:
            log.info("chunk %s (%s) not repaired: every version it holds is superseded on all metadata "
                     "replicas; garbage collection removes it", layout.chunk_id.hex()[:16], layout.policy_text)

    def _note_failure(self, layout: Layout, reason: str, *, retry: bool) -> None:
        lid = self._layout_id(layout)
        now_s = self._clock.monotonic_s()
        with self._lock:
            failure = self._failures.get(lid)
            if failure is None:
                if len(self._failures) >= UNREPAIRABLE_LISTED_MAX:
                    return
                failure = _Failure(layout.policy_text, reason, 0, 0, now_s)
                self._failures[lid] = failure
            failure.reason = reason
            failure.attempts += 1
            failure.last_attempt_unix_ms = self._clock.wall_ms()
            backoff = min(RETRY_BACKOFF_MAX_S,
                          self._config.repair_scan_interval_s * 2 ** min(failure.attempts, 16))
            failure.retry_at_s = now_s + backoff
        if failure.attempts == 1 or failure.attempts % FAILURE_LOG_EVERY == 0:  # listed always; logged sparsely
            log.warning("repair of chunk %s (%s) failed (attempt %d%s): %s", layout.chunk_id.hex()[:16],
                        layout.policy_text, failure.attempts, "" if retry else ", not repairable now", reason)
        if self._metrics is not None:
            self._metrics.repair_failures.inc()

    def _count_repaired(self, layout: Layout, size: int) -> None:
        self._rate.add(size)
        with self._lock:
            self._bytes_repaired += size
            self._copies_repaired += 1
        if self._metrics is not None:
            self._metrics.repair_bytes.labels("ec" if layout.erasure else "replication").inc(size)
            self._metrics.repair_copies.inc()

    def _count_dropped(self, layout: Layout) -> None:
        with self._lock:
            self._copies_dropped += 1
        if self._metrics is not None:
            self._metrics.surplus_dropped.inc()

    def status(self) -> RepairStatus:
        with self._lock:
            pending = list(self._pending.values())
            failures = sorted(self._failures.items(), key=lambda item: -item[1].last_attempt_unix_ms)
            levels: dict[tuple, list[int]] = {}
            bytes_left = 0
            below = 0
            for work in pending:
                if not work.responsible:
                    continue
                plan = work.plan
                bytes_left += plan.bytes_to_write
                if plan.below_full:
                    below += 1
                    layout = plan.layout
                    key = (layout.policy_text, plan.present, layout.wanted, layout.needed)
                    entry = levels.setdefault(key, [0, 0])
                    entry[0] += 1
                    entry[1] += (layout.wanted - plan.present) * layout.copy_size_bytes()
            rate = self._rate.rate_bytes_per_s()
            eta = 0.0 if bytes_left == 0 else (bytes_left / rate if rate > 0 else -1.0)
            ordered = sorted(levels.items(), key=lambda item: (item[0][1] - item[0][3], item[0][0]))
            return RepairStatus(
                levels=tuple(LevelCount(p, present, wanted, needed, c, b)
                             for (p, present, wanted, needed), (c, b) in ordered),
                chunks_below_full=below, bytes_left=bytes_left, rate_bytes_per_s=rate, eta_s=eta,
                bytes_repaired_total=self._bytes_repaired, copies_repaired_total=self._copies_repaired,
                chunks_misplaced=self._misplaced, copies_dropped_total=self._copies_dropped,
                unrepairable=tuple((lid[0], f) for lid, f in failures),
                last_scan_unix_ms=self._last_scan_unix_ms, last_scan_s=self._last_scan_s,
                chunks_responsible=self._responsible,
                repair_bandwidth_bytes_per_s=self._bucket.rate_bytes_per_s,
                repair_concurrency_max=self._concurrency, queued=len(self._queue))

    def debt(self) -> tuple[int, int]:
        """(chunks below full redundancy, bytes left) for metrics and `nodectl status`."""
        status = self.status()
        return status.chunks_below_full, status.bytes_left


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _record_stale(record: common_pb2.PlacementRecord, plan: LayoutPlan) -> bool:
    """True when the record's holders differ from what the plan says they are."""
    wanted = plan.holders_after(record, ())
    have = [(h.node_id, h.share_index, h.handoff_for_node_id) for h in record.holders]
    return sorted(have) != sorted((h.node_id, h.share_index, h.handoff_for_node_id) for h in wanted)



def _recorded_hash(record: common_pb2.PlacementRecord, layout: Layout, slot: int) -> bytes | None:
    if not layout.erasure:
        return layout.chunk_id
    for holder in record.holders:
        if holder.share_index == slot and holder.blake3:
            return bytes(holder.blake3)
    return None

