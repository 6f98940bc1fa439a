"""Unit tests of node/repair/throttle: the token bucket that paces background bytes and the meter
that measures them, under a ManualClock whose sleep advances virtual time, so every wait is an exact
virtual duration."""

from __future__ import annotations

import pytest

from node.gossip import ManualClock
from node.repair.throttle import (BURST_BYTES_MIN, RATE_METER_SLOTS, THROTTLE_SLEEP_SLICE_S,
                                  RateMeter, TokenBucket, default_burst_bytes)

MIB = 1024 * 1024


def _waited(clock: ManualClock, bucket: TokenBucket, n: int) -> float:
    """Virtual seconds one acquire(n) slept."""
    start_s = clock.monotonic_s()
    bucket.acquire(n)
    return clock.monotonic_s() - start_s


# -- TokenBucket -----------------------------------------------------------------------------------

def test_full_bucket_passes_its_burst_then_paces_at_the_rate():
    """A fresh bucket is full: the burst passes at once; after that every byte costs 1/rate s."""
    clock = ManualClock()
    bucket = TokenBucket(1000, clock, burst_bytes=1000)
    assert _waited(clock, bucket, 1000) == 0.0
    assert _waited(clock, bucket, 500) == pytest.approx(0.5, abs=1e-6)
    assert _waited(clock, bucket, 2000) == pytest.approx(2.0, abs=1e-6)
    assert clock.monotonic_s() == pytest.approx(2.5, abs=1e-6)


@pytest.mark.parametrize("n, idle_s, expected_wait_s", [
    (5000, 0.0, 4.0),    # above the burst from full: only the part above the burst waits
    (5000, 10.0, 4.0),   # idling refills at most to the burst, never beyond
    (1000, 0.0, 0.0),    # exactly the burst
    (0, 0.0, 0.0),
])
def test_request_above_the_burst_waits_what_it_costs(n, idle_s, expected_wait_s):
    """A request larger than the burst is never refused or split: it takes the whole bucket and
    waits (n - burst) / rate, and time spent idle refills no more than the burst."""
    clock = ManualClock()
    bucket = TokenBucket(1000, clock, burst_bytes=1000)
    clock.advance(idle_s)
    assert _waited(clock, bucket, n) == pytest.approx(expected_wait_s, abs=1e-6)


def test_request_above_the_burst_from_empty_waits_n_over_rate():
    """With the bucket drained, acquire(n) waits n / rate whatever n is."""
    clock = ManualClock()
    bucket = TokenBucket(1000, clock, burst_bytes=1000)
    bucket.acquire(1000)
    assert _waited(clock, bucket, 7000) == pytest.approx(7.0, abs=1e-6)


def test_long_run_rate_is_the_configured_rate():
    """100 acquires of 3 KB at 10 KB/s with a 1 KB burst take (300 KB - 1 KB) / 10 KB/s."""
    clock = ManualClock()
    bucket = TokenBucket(10_000, clock, burst_bytes=1000)
    for _ in range(100):
        bucket.acquire(3000)
    assert clock.monotonic_s() == pytest.approx(29.9, abs=1e-5)


def test_rate_zero_is_unthrottled():
    """Rate 0 lets any amount through without sleeping."""
    clock = ManualClock()
    bucket = TokenBucket(0, clock)
    for _ in range(10):
        bucket.acquire(10**12)
    assert clock.monotonic_s() == 0.0
    assert bucket.rate_bytes_per_s == 0


@pytest.mark.parametrize("rate, expected_burst", [
    (0, BURST_BYTES_MIN),
    (1, BURST_BYTES_MIN),
    (BURST_BYTES_MIN, BURST_BYTES_MIN),
    (20 * MIB, 20 * MIB),
])
def test_default_burst_is_one_second_of_rate_at_least_4_mib(rate, expected_burst):
    assert default_burst_bytes(rate) == expected_burst
    assert TokenBucket(rate, ManualClock()).burst_bytes == expected_burst


def test_set_rate_applies_to_the_next_acquire_and_moves_the_default_burst():
    """set_rate changes the pace (refills before the change at the old rate) and, with the default
    burst, the burst too; an explicit burst stays."""
    clock = ManualClock()
    bucket = TokenBucket(8 * MIB, clock)
    bucket.acquire(8 * MIB)                       # drain
    bucket.set_rate(16 * MIB)
    assert bucket.rate_bytes_per_s == 16 * MIB
    assert bucket.burst_bytes == 16 * MIB
    assert _waited(clock, bucket, 4 * MIB) == pytest.approx(0.25, abs=1e-6)
    fixed = TokenBucket(1000, clock, burst_bytes=10)
    fixed.set_rate(5000)
    assert fixed.burst_bytes == 10


def test_leaving_unthrottled_starts_with_a_full_bucket():
    """0 -> rate gives a full bucket (no debt carried from unthrottled time)."""
    clock = ManualClock()
    bucket = TokenBucket(1000, clock, burst_bytes=1000)
    bucket.acquire(1000)
    bucket.set_rate(0)
    bucket.acquire(10**9)
    bucket.set_rate(1000)
    assert _waited(clock, bucket, 1000) == 0.0
    assert _waited(clock, bucket, 1000) == pytest.approx(1.0, abs=1e-6)


class _HookClock(ManualClock):
    """A ManualClock that runs `on_sleep` once, at the first sleep: stands in for another thread
    acting while a caller is blocked in acquire."""

    def __init__(self) -> None:
        super().__init__()
        self.on_sleep = lambda: None
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        hook, self.on_sleep = self.on_sleep, (lambda: None)
        super().sleep(s)
        hook()


@pytest.mark.parametrize("new_rate, expected_total_s", [
    (0, THROTTLE_SLEEP_SLICE_S),                                   # released after one slice
    (1_000_000, THROTTLE_SLEEP_SLICE_S + (100_000 - 250) / 1_000_000),  # the rest at the new rate
])
def test_set_rate_reaches_a_caller_already_waiting(new_rate, expected_total_s):
    """A caller waiting 100 s at 1 KB/s sleeps in slices; a set_rate during the first slice applies
    to the rest of its wait (bytes refilled up to the change count at the old rate)."""
    clock = _HookClock()
    bucket = TokenBucket(1000, clock, burst_bytes=1000)
    bucket.acquire(1000)
    clock.on_sleep = lambda: bucket.set_rate(new_rate)
    bucket.acquire(100_000)
    assert max(clock.sleeps) <= THROTTLE_SLEEP_SLICE_S
    assert clock.monotonic_s() == pytest.approx(expected_total_s, abs=1e-6)


@pytest.mark.parametrize("make", [
    lambda clock: TokenBucket(-1, clock),
    lambda clock: TokenBucket(1000, clock, burst_bytes=0),
    lambda clock: TokenBucket(1000, clock).set_rate(-5),
])
def test_invalid_rates_and_bursts_are_refused(make):
    with pytest.raises(ValueError, match=">= "):
        make(ManualClock())


# -- RateMeter -------------------------------------------------------------------------------------

def test_meter_divides_the_last_window_by_its_length():
    """Bytes added within the window count over the whole window; a slot leaves once it is
    RATE_METER_SLOTS slots old."""
    clock = ManualClock()
    meter = RateMeter(clock, window_s=30.0)
    assert RATE_METER_SLOTS == 30            # one slot per second below
    meter.add(300)
    assert meter.rate_bytes_per_s() == 10.0
    clock.advance(29.5)
    assert meter.rate_bytes_per_s() == 10.0
    clock.advance(0.5)
    assert meter.rate_bytes_per_s() == 0.0


def test_meter_reads_a_steady_rate_exactly():
    """100 bytes every second for a minute reads 100 B/s: the window holds the last 30 slots."""
    clock = ManualClock()
    meter = RateMeter(clock, window_s=30.0)
    for _ in range(60):
        clock.advance(1.0)
        meter.add(100)
    assert meter.rate_bytes_per_s() == 100.0


def test_meter_forgets_everything_after_a_quiet_window():
    clock = ManualClock()
    meter = RateMeter(clock, window_s=3.0)
    for _ in range(1000):
        meter.add(7)
        clock.advance(0.01)
    assert meter.rate_bytes_per_s() > 0
    clock.advance(3.0)
    assert meter.rate_bytes_per_s() == 0.0


def test_meter_refuses_an_empty_window():
    with pytest.raises(ValueError, match="window must be > 0 s"):
        RateMeter(ManualClock(), window_s=0.0)
