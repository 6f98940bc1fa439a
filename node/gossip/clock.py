"""Time, injected: the one place node/gossip learns what time it is.

Design. Everything in membership reads time through a `Clock` passed in at construction, so the
same code runs under `SystemClock` in the daemon and under `ManualClock` in tests and in the
simulation, where a test advances virtual time and asserts exact virtual times (a node is DOWN
at t = 3.5 s) instead of sleeping and hoping. Two readings are offered because they answer
different questions: `monotonic_s()` measures intervals (timers, silence) and never jumps, while
`wall_ms()` stamps things other nodes compare (a process's generation is its start time).

Rejected: passing `now_s` into every call. Step functions could take the time as an argument,
but the gRPC-thread entry points (`on_heartbeat` and friends) have no caller that knows the time,
and two sources of "now" in one object invite them to disagree.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """A source of time for gossip and repair."""

    def monotonic_s(self) -> float:
        """Seconds on a clock that never goes backwards; only differences mean anything."""
        ...

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...

    def sleep(self, s: float) -> None:
        """Block for `s` seconds of this clock's time."""
        ...


class SystemClock:
    """The real clock: `time.monotonic`, `time.time_ns`, `time.sleep`."""

    def monotonic_s(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, s: float) -> None:
        if s > 0:
            time.sleep(s)


class ManualClock:
    """Virtual time that moves only when told to; `sleep(s)` advances it by `s` at once.

    Thread-safe, so a test may read it from several threads. The wall clock moves with the
    monotonic one from `wall_start_ms`, so a node restarted later in virtual time gets a later
    generation, as it would for real.
    """

    def __init__(self, start_s: float = 0.0, wall_start_ms: int = 1_700_000_000_000) -> None:
        self._lock = threading.Lock()
        self._now_s = start_s
        self._start_s = start_s
        self._wall_start_ms = wall_start_ms

    def monotonic_s(self) -> float:
        with self._lock:
            return self._now_s

    def wall_ms(self) -> int:
        with self._lock:
            return self._wall_start_ms + int(round((self._now_s - self._start_s) * 1000))

    def sleep(self, s: float) -> None:
        self.advance(max(0.0, s))

    def advance(self, s: float) -> None:
        """Move time forward by `s` seconds (never backwards: that is a test's bug)."""
        if s < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {s} s)")
        with self._lock:
            self._now_s += s
