"""Bandwidth throttles for background work: a token bucket that paces, a meter that measures.

`TokenBucket` paces scrub reads and repair writes by bytes. It is a bucket that may go into debt:
`acquire(n)` always takes its n tokens at once and, if that leaves the balance negative, sleeps
until refills have paid the debt off. So a request larger than the burst (a 64 MiB share under a
4 MiB burst) is never refused or split: it waits what its size costs at the rate, and over any long
run no more than `rate * t + burst` bytes pass in t seconds. The bucket starts full, so a short job
runs at disk speed and only a long one is held to the rate.

Rejected: waiting until n tokens are *available* before taking them. A request above the burst could
then never pass, and small requests would overtake a large one forever.

`set_rate` comes from gRPC threads (`nodectl repair config`) while a worker sleeps inside `acquire`.
The worker sleeps in slices of at most `THROTTLE_SLEEP_SLICE_S` and recomputes its wait after each,
so a new rate applies within one slice, and setting rate 0 (unthrottled) releases it at once.
Refills up to the change are credited at the old rate.

`RateMeter` answers "how fast is this actually going" for status and metrics, over a sliding window
of fixed slots (see its docstring). Rejected: an exponential moving average, whose value depends on
when it is read and which tests cannot pin to exact figures.

Time comes from the injected `Clock`, so tests assert exact virtual times.
"""

from __future__ import annotations

import collections
import math
import threading

from node.gossip.clock import Clock

MIB = 1024 * 1024
# The default burst is one second of rate, but never below this: a scrub or repair of one default
# 4 MiB chunk then passes without waiting on an idle node.
BURST_BYTES_MIN = 4 * MIB
# Longest single sleep inside `acquire`: bounds how late a `set_rate` reaches a waiting caller.
THROTTLE_SLEEP_SLICE_S = 0.25
# A wait shorter than this counts as none. Float rounding can leave a debt of a fraction of a byte,
# and a sleep too short to move the clock would otherwise be retried forever.
THROTTLE_WAIT_EPSILON_S = 1e-6
# Slots of a RateMeter's sliding window: the window covers between (slots - 1) and slots slots of
# time, so the reading is within 1/slots of the true rate for steady traffic.
RATE_METER_SLOTS = 30


def default_burst_bytes(rate_bytes_per_s: int) -> int:
    """One second of rate, at least BURST_BYTES_MIN."""
    return max(rate_bytes_per_s, BURST_BYTES_MIN)


class TokenBucket:
    """Paces bytes to `rate_bytes_per_s` (0 = unthrottled); thread-safe (module docstring)."""

    def __init__(self, rate_bytes_per_s: int, clock: Clock, burst_bytes: int | None = None) -> None:
        if rate_bytes_per_s < 0:
            raise ValueError(f"rate must be >= 0 bytes/s (0 = unthrottled), got {rate_bytes_per_s}")
        if burst_bytes is not None and burst_bytes < 1:
            raise ValueError(f"burst must be >= 1 byte (or None for one second of rate), "
                             f"got {burst_bytes}")
        self._clock = clock
        self._lock = threading.Lock()
        self._fixed_burst_bytes = burst_bytes
        self._rate_bytes_per_s = rate_bytes_per_s
        self._burst_bytes = burst_bytes if burst_bytes is not None else default_burst_bytes(
            rate_bytes_per_s)
        self._tokens = float(self._burst_bytes)
        self._refilled_at_s = clock.monotonic_s()

    @property
    def rate_bytes_per_s(self) -> int:
        with self._lock:
            return self._rate_bytes_per_s

    @property
    def burst_bytes(self) -> int:
        with self._lock:
            return self._burst_bytes

    def set_rate(self, rate_bytes_per_s: int) -> None:
        """Change the rate from any thread; a caller waiting in `acquire` sees it in one slice."""
        if rate_bytes_per_s < 0:
            raise ValueError(f"rate must be >= 0 bytes/s (0 = unthrottled), got {rate_bytes_per_s}")
        with self._lock:
            self._refill_locked()
            was_unthrottled = self._rate_bytes_per_s == 0
            self._rate_bytes_per_s = rate_bytes_per_s
            if self._fixed_burst_bytes is None:
                self._burst_bytes = default_burst_bytes(rate_bytes_per_s)
            if rate_bytes_per_s == 0 or was_unthrottled:
                # Unthrottled has no debt to carry over, and leaving it starts with a full bucket.
                self._tokens = float(self._burst_bytes)
            else:
                self._tokens = min(self._tokens, float(self._burst_bytes))

    def acquire(self, n: int) -> None:
        """Take n bytes' worth of tokens, sleeping (on the clock) while the bucket is in debt."""
        assert n >= 0, f"acquire of {n} bytes"
        with self._lock:
            if self._rate_bytes_per_s == 0:
                return
            self._refill_locked()
            self._tokens -= n
        while True:
            with self._lock:
                if self._rate_bytes_per_s == 0:
                    return
                self._refill_locked()
                wait_s = -self._tokens / self._rate_bytes_per_s
            if wait_s <= THROTTLE_WAIT_EPSILON_S:
                return
            self._clock.sleep(min(wait_s, THROTTLE_SLEEP_SLICE_S))

    def _refill_locked(self) -> None:
        now_s = self._clock.monotonic_s()
        elapsed_s = max(0.0, now_s - self._refilled_at_s)
        self._refilled_at_s = now_s
        self._tokens = min(float(self._burst_bytes),
                           self._tokens + elapsed_s * self._rate_bytes_per_s)


class RateMeter:
    """Bytes per second over a sliding window, thread-safe.

    The window is cut into RATE_METER_SLOTS slots of window_s / RATE_METER_SLOTS seconds each;
    `rate_bytes_per_s()` is the bytes added in the slots that overlap the last window_s seconds,
    divided by window_s. Memory is bounded by the slot count whatever the traffic. A meter younger
    than its window reads low (it divides by the whole window), which errs toward "slow" rather
    than reporting a burst of the first second as a sustained rate.
    """

    def __init__(self, clock: Clock, window_s: float = 30.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window must be > 0 s, got {window_s}")
        self._clock = clock
        self._window_s = window_s
        self._slot_s = window_s / RATE_METER_SLOTS
        self._lock = threading.Lock()
        self._slots: collections.deque[list[int]] = collections.deque()  # [slot number, bytes]

    def add(self, n: int) -> None:
        assert n >= 0, f"RateMeter.add of {n} bytes"
        with self._lock:
            slot = self._expire_locked()
            if self._slots and self._slots[-1][0] == slot:
                self._slots[-1][1] += n
            else:
                self._slots.append([slot, n])

    def rate_bytes_per_s(self) -> float:
        with self._lock:
            self._expire_locked()
            return sum(n for _slot, n in self._slots) / self._window_s

    def _expire_locked(self) -> int:
        """Drop slots that left the window; returns the current slot number."""
        slot = math.floor(self._clock.monotonic_s() / self._slot_s)
        while self._slots and self._slots[0][0] <= slot - RATE_METER_SLOTS:
            self._slots.popleft()
        return slot
