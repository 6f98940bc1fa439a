"""Scrub: re-read every copy this node stores against its blake3, slowly, forever.

Bit rot, a torn write the disk acknowledged, a file someone edited: nothing notices them until a
read, and a chunk nobody reads can rot on all its holders one by one. Scrub is that read for every
copy, paced so clients barely notice it (`scrub_bandwidth_bytes_per_s`, a `TokenBucket` charged
each copy's size before it is read).

Design: a step function plus a thin loop (STYLE 8). A pass walks `NodeStore.iter_shares()`; the
iterator is kept between steps, and since the store holds no LMDB transaction between its batches, a
pass that takes a week pins no old pages. Each `step` reads at most `max_copies` copies through
`NodeStore.read_share`, which does the checking itself: an intact copy comes back and is marked
verified (one `mark_verified` transaction per step); a corrupt one is quarantined by the store
(index entry dropped, references and placement record kept so repair rebuilds exactly that copy)
and raises `CorruptShare`, which scrub hands to `on_corrupt`; a copy deleted since the iterator
listed it raises `ShareNotFound` and is skipped. A copy that cannot be read at all (an I/O error)
is reported to `on_corrupt` too, with its reason, but stays indexed: the store has no verdict to
act on, and the next pass reports it again if it is still unreadable.

Passes start on `request_pass()` (`nodectl scrub start`) or by themselves `interval_s` after the
previous one finished (the first one `interval_s` after construction; 0 = only on request). A pass
reads the copies indexed as it goes, so copies written during a pass may be read in it or not, and
`copies_checked` may end above or below the `copies_total` snapshot taken when it started.

Rejected: reading copies in order of `last_verified_at_unix_ms` (oldest first). It needs a secondary
index the write path would maintain on every put, or a full scan and sort per pass; walking in
chunk id order with a bounded, resumable iterator gives every copy the same interval for free.
Rejected too: checking in a thread pool. blake3 at 3 GB/s is never the limit at scrub's rate; one
thread and one throttle keep the pace exact.

Thread-safety: one thread drives `step` (the `run` loop, or a simulation); `status`,
`request_pass` and `set_bandwidth` come from gRPC threads and take only a short lock.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator

from ringstore.v1 import common_pb2

from node.gossip.clock import Clock
from node.repair.throttle import TokenBucket
from node.store import CorruptShare, NodeStore, ShareKey, ShareNotFound
from node.store.store import MARK_VERIFIED_BATCH_MAX

log = logging.getLogger("ringstore.repair")

# Copies one step may read: its intact copies are marked verified in one store transaction.
SCRUB_STEP_COPIES_MAX = MARK_VERIFIED_BATCH_MAX
# How long `run` waits between looks for work when no pass is running; bounds how late a requested
# or due pass starts, at one wake-up per period.
SCRUB_IDLE_WAIT_S = 0.2
# After a step fails unexpectedly (its error is logged and the pass abandoned), `run` waits this
# long before looking for work again, so a persistent fault logs once a minute, not in a tight loop.
SCRUB_ERROR_BACKOFF_S = 60.0


@dataclasses.dataclass(frozen=True)
class ScrubStatus:
    """Progress of the current (or last) pass, and totals since the scrubber started."""

    running: bool
    copies_checked: int  # copies read in the current (or last) pass
    copies_total: int  # copies indexed when that pass started
    bytes_checked: int
    bytes_total: int
    corrupt_found: int  # corrupt or unreadable copies found in the current (or last) pass
    passes_completed: int
    last_pass_finished_unix_ms: int  # 0 if no pass has finished
    last_pass_s: float
    scrub_bandwidth_bytes_per_s: int  # the current throttle
    corrupt_found_total: int


class Scrubber:
    """Re-reads every stored copy against its blake3 at a throttled rate (module docstring)."""

    def __init__(self, store: NodeStore, clock: Clock, bandwidth_bytes_per_s: int,
                 interval_s: float, on_corrupt: Callable[[ShareKey, str], None]) -> None:
        if interval_s < 0:
            raise ValueError(
                f"scrub interval must be >= 0 s (0 = on request only), got {interval_s}")
        self._store = store
        self._clock = clock
        self._interval_s = interval_s
        self._on_corrupt = on_corrupt
        self._throttle = TokenBucket(bandwidth_bytes_per_s, clock)
        self._node_id = store.load_node_id() or "?"
        self._lock = threading.Lock()
        # Pass state: `_running` flips under the lock; `_shares` belongs to the stepping thread.
        self._running = False
        self._shares: Iterator[tuple[ShareKey, common_pb2.StoredShare]] | None = None
        self._pass_started_s = 0.0
        self._next_auto_pass_s = clock.monotonic_s() + interval_s
        self._copies_checked = self._copies_total = 0
        self._bytes_checked = self._bytes_total = 0
        self._corrupt_found = 0
        self._passes_completed = 0
        self._last_pass_finished_unix_ms = 0
        self._last_pass_s = 0.0
        self._corrupt_found_total = 0

    # -- control (any thread) ----------------------------------------------------------------------

    def request_pass(self) -> bool:
        """Start a pass now; True if this call started one, False if one was already running."""
        with self._lock:
            if self._running:
                return False
            self._start_pass_locked()
            return True

    @property
    def throttle(self) -> TokenBucket:
        """The scrub's bandwidth throttle; deep fsck probes read through it too."""
        return self._throttle

    def set_bandwidth(self, bytes_per_s: int) -> None:
        """Change the throttle (0 = unthrottled); a read waiting on the old rate sees it soon."""
        self._throttle.set_rate(bytes_per_s)

    def status(self) -> ScrubStatus:
        with self._lock:
            return ScrubStatus(
                running=self._running, copies_checked=self._copies_checked,
                copies_total=self._copies_total, bytes_checked=self._bytes_checked,
                bytes_total=self._bytes_total, corrupt_found=self._corrupt_found,
                passes_completed=self._passes_completed,
                last_pass_finished_unix_ms=self._last_pass_finished_unix_ms,
                last_pass_s=self._last_pass_s,
                scrub_bandwidth_bytes_per_s=self._throttle.rate_bytes_per_s,
                corrupt_found_total=self._corrupt_found_total)

    # -- work (one thread) -------------------------------------------------------------------------

    def step(self, max_copies: int = 64) -> bool:
        """Read up to `max_copies` copies of the current pass (starting one if due); True while a
        pass is still running afterwards."""
        assert 1 <= max_copies <= SCRUB_STEP_COPIES_MAX, f"max_copies {max_copies}"
        with self._lock:
            if (not self._running and self._interval_s > 0
                    and self._clock.monotonic_s() >= self._next_auto_pass_s):
                self._start_pass_locked()
            if not self._running:
                return False
        if self._shares is None:
            self._shares = self._store.iter_shares()
        verified: list[ShareKey] = []
        try:
            for _ in range(max_copies):
                item = next(self._shares, None)
                if item is None:
                    self._flush_verified(verified)
                    self._finish_pass()
                    return False
                share, info = item
                if self._check(share, info):
                    verified.append(share)
        finally:
            self._flush_verified(verified)
        return True

    def run(self, stop: threading.Event) -> None:
        """Step until `stop` is set, waiting SCRUB_IDLE_WAIT_S between looks while idle."""
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:
                log.exception("node=%s scrub step failed; pass abandoned, next look in %.0f s",
                              self._node_id, SCRUB_ERROR_BACKOFF_S)
                self._abandon_pass()
                stop.wait(SCRUB_ERROR_BACKOFF_S)
                continue
            if not busy:
                stop.wait(SCRUB_IDLE_WAIT_S)

    # -- internals ---------------------------------------------------------------------------------

    def _check(self, share: ShareKey, info: common_pb2.StoredShare) -> bool:
        """Read one copy through the throttle; True when it is intact."""
        self._throttle.acquire(info.size_bytes)
        try:
            data = self._store.read_share(share)
        except ShareNotFound:
            return False  # deleted (released, moved home) since the iterator listed it
        except CorruptShare as exc:
            self._count(info.size_bytes, corrupt=True)
            log.warning("node=%s scrub found %s", self._node_id, exc)
            self._on_corrupt(share, str(exc))
            return False
        except OSError as exc:
            self._count(info.size_bytes, corrupt=True)
            reason = (f"share {share.suffix()} of chunk {share.chunk_id.hex()} is unreadable "
                      f"({exc}); left in place, check the disk")
            log.warning("node=%s scrub: %s", self._node_id, reason)
            self._on_corrupt(share, reason)
            return False
        self._count(len(data), corrupt=False)
        return True

    def _count(self, size_bytes: int, *, corrupt: bool) -> None:
        with self._lock:
            self._copies_checked += 1
            self._bytes_checked += size_bytes
            if corrupt:
                self._corrupt_found += 1
                self._corrupt_found_total += 1

    def _flush_verified(self, verified: list[ShareKey]) -> None:
        if verified:
            self._store.mark_verified(verified)
            verified.clear()

    def _start_pass_locked(self) -> None:
        self._running = True
        self._shares = None  # opened by the stepping thread, which alone touches the iterator
        self._pass_started_s = self._clock.monotonic_s()
        self._copies_total, self._bytes_total = self._store.stats()
        self._copies_checked = self._bytes_checked = self._corrupt_found = 0

    def _finish_pass(self) -> None:
        with self._lock:
            now_s = self._clock.monotonic_s()
            self._running = False
            self._shares = None
            self._passes_completed += 1
            self._last_pass_finished_unix_ms = self._clock.wall_ms()
            self._last_pass_s = now_s - self._pass_started_s
            self._next_auto_pass_s = now_s + self._interval_s
            status = (self._copies_checked, self._bytes_checked, self._corrupt_found,
                      self._last_pass_s)
        log.info("node=%s scrub pass done: %d copies (%d bytes) checked, %d corrupt, in %.1f s",
                 self._node_id, *status)

    def _abandon_pass(self) -> None:
        with self._lock:
            self._running = False
            self._shares = None
            self._next_auto_pass_s = self._clock.monotonic_s() + self._interval_s
