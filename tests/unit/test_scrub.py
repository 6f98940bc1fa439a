"""Unit tests of node/repair/scrub: the Scrubber over a real NodeStore in tmp_path, driven step by
step under a ManualClock whose sleep advances virtual time (so throttling shows up as exact virtual
seconds, and automatic passes as exact intervals)."""

from __future__ import annotations

import os
import threading
import time

import blake3
import pytest

from node.gossip import ManualClock
from node.repair import Scrubber, ScrubStatus
from node.repair.throttle import BURST_BYTES_MIN
from node.store import NodeStore, ShareKey

MIB = 1024 * 1024
# Real-time limit for the one test that runs the loop in a thread (it polls, never sleeps blind).
RUN_DEADLINE_S = 10.0


class Reports:
    """on_corrupt target: remembers every (share, reason)."""

    def __init__(self) -> None:
        self.items: list[tuple[ShareKey, str]] = []

    def __call__(self, share: ShareKey, reason: str) -> None:
        self.items.append((share, reason))


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def store(tmp_path, clock):
    s = NodeStore(str(tmp_path / "data"), map_size_bytes=64 * MIB, now_unix_ms=clock.wall_ms)
    yield s
    s.close()


def _fill(store: NodeStore, count: int, size_bytes: int = 1000, *,
          erasure: bool = False) -> list[ShareKey]:
    """`count` copies of distinct random chunks, in the order scrub walks them (chunk id order)."""
    shares = []
    for i in range(count):
        data = os.urandom(size_bytes)
        chunk_id = blake3.blake3(data).digest()
        share = ShareKey(chunk_id, i % 6, 4, 2) if erasure else ShareKey(chunk_id)
        store.put_share(share, data, expected_blake3=chunk_id, placement=None)
        shares.append(share)
    return sorted(shares, key=ShareKey.db_key)


def _flip_byte(store: NodeStore, share: ShareKey, offset: int = 0) -> None:
    path = store._files.final_path(share)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def _finish(scrubber: Scrubber, max_copies: int = 64) -> int:
    """Step until the pass is over; returns how many steps returned True."""
    busy_steps = 0
    while scrubber.step(max_copies):
        busy_steps += 1
        assert busy_steps < 10_000, "scrub pass never ended"
    return busy_steps


def _scrubber(store, clock, reports=None, *, bandwidth=0, interval_s=0.0) -> Scrubber:
    return Scrubber(store, clock, bandwidth, interval_s,
                    reports if reports is not None else Reports())


def test_a_pass_reads_every_copy_and_marks_it_verified(store, clock):
    """Every copy (replicas and erasure shares) is read once and its last_verified_at moves to the
    time of the pass; the status adds up and snapshots the totals from store.stats()."""
    shares = _fill(store, 5) + _fill(store, 6, erasure=True)
    clock.advance(3600.0)
    scrubber = _scrubber(store, clock)
    assert scrubber.request_pass() is True
    assert scrubber.status().running
    _finish(scrubber)
    for share in shares:
        assert store.share_info(share).last_verified_at_unix_ms == clock.wall_ms()
    assert scrubber.status() == ScrubStatus(
        running=False, copies_checked=11, copies_total=11, bytes_checked=11_000,
        bytes_total=11_000, corrupt_found=0, passes_completed=1,
        last_pass_finished_unix_ms=clock.wall_ms(), last_pass_s=0.0,
        scrub_bandwidth_bytes_per_s=0, corrupt_found_total=0)


def test_step_reads_at_most_max_copies_and_resumes_where_it_stopped(store, clock):
    """A step is bounded; the next one continues the same walk, and a pass ends with the step that
    finds nothing left."""
    _fill(store, 5)
    scrubber = _scrubber(store, clock)
    scrubber.request_pass()
    checked = []
    while scrubber.step(max_copies=2):
        checked.append(scrubber.status().copies_checked)
    assert checked == [2, 4]
    assert scrubber.status().copies_checked == 5
    assert scrubber.status().passes_completed == 1


def test_flipped_byte_is_reported_once_quarantined_and_counted(store, clock):
    """A copy with one flipped byte is reported to on_corrupt once with a one-line reason, counted,
    and quarantined (out of the index); the others are verified; the next pass finds nothing."""
    shares = _fill(store, 4)
    bad = shares[2]
    _flip_byte(store, bad, offset=500)
    clock.advance(60.0)
    reports = Reports()
    scrubber = _scrubber(store, clock, reports)
    scrubber.request_pass()
    _finish(scrubber)
    assert [share for share, _ in reports.items] == [bad]
    reason = reports.items[0][1]
    assert "\n" not in reason and bad.chunk_id.hex() in reason and "corrupt" in reason
    assert not store.has_share(bad)
    assert os.listdir(os.path.join(store.data_dir, "quarantine"))
    for share in shares:
        if share != bad:
            assert store.share_info(share).last_verified_at_unix_ms == clock.wall_ms()
    status = scrubber.status()
    assert (status.copies_checked, status.corrupt_found, status.corrupt_found_total) == (4, 1, 1)

    scrubber.request_pass()
    _finish(scrubber)
    assert len(reports.items) == 1
    status = scrubber.status()
    assert (status.copies_total, status.copies_checked, status.corrupt_found,
            status.corrupt_found_total, status.passes_completed) == (3, 3, 0, 1, 2)


def test_copy_deleted_during_a_pass_is_skipped_silently(store, clock):
    """A copy released after the walk listed it raises ShareNotFound inside scrub: not reported,
    not counted."""
    shares = _fill(store, 3)
    reports = Reports()
    scrubber = _scrubber(store, clock, reports)
    scrubber.request_pass()
    assert scrubber.step(max_copies=1)        # the walk has listed all three by now
    assert store.delete_share(shares[2])
    _finish(scrubber)
    assert reports.items == []
    assert scrubber.status().copies_checked == 2


def test_unreadable_copy_is_reported_and_left_indexed(store, clock):
    """A copy that cannot be read at all (here its file became a directory) is reported with
    "unreadable" and counted, but stays in the index: the store has not judged it."""
    shares = _fill(store, 2)
    path = store._files.final_path(shares[0])
    os.unlink(path)
    os.mkdir(path)
    reports = Reports()
    scrubber = _scrubber(store, clock, reports)
    scrubber.request_pass()
    _finish(scrubber)
    assert [share for share, _ in reports.items] == [shares[0]]
    assert "unreadable" in reports.items[0][1]
    assert store.has_share(shares[0])
    assert scrubber.status().corrupt_found == 1


def test_throttle_makes_a_pass_take_its_bytes_over_the_rate(store, clock):
    """10 copies of 1 MiB at 1 MiB/s: the bucket starts full (4 MiB burst), so the pass takes
    (10 MiB - 4 MiB) / 1 MiB/s = 6 virtual seconds, and status reports the throttle."""
    _fill(store, 10, size_bytes=MIB)
    scrubber = _scrubber(store, clock, bandwidth=MIB)
    scrubber.request_pass()
    _finish(scrubber, max_copies=3)
    expected_s = (10 * MIB - BURST_BYTES_MIN) / MIB
    assert clock.monotonic_s() == pytest.approx(expected_s, abs=1e-4)
    status = scrubber.status()
    assert status.last_pass_s == pytest.approx(expected_s, abs=1e-4)
    assert status.bytes_checked == 10 * MIB
    assert status.scrub_bandwidth_bytes_per_s == MIB


def test_set_bandwidth_changes_the_pace_of_a_running_pass(store, clock):
    """Halfway through a throttled pass, set_bandwidth(2 MiB/s) halves the cost of the rest."""
    _fill(store, 12, size_bytes=MIB)
    scrubber = _scrubber(store, clock, bandwidth=MIB)
    scrubber.request_pass()
    scrubber.step(max_copies=6)               # 4 MiB burst, then 2 MiB at 1 MiB/s
    assert clock.monotonic_s() == pytest.approx(2.0, abs=1e-4)
    scrubber.set_bandwidth(2 * MIB)           # default burst grows to 4 MiB, the bucket is empty
    assert scrubber.status().scrub_bandwidth_bytes_per_s == 2 * MIB
    _finish(scrubber)
    assert clock.monotonic_s() == pytest.approx(2.0 + 6 / 2, abs=1e-4)


def test_passes_start_by_themselves_interval_s_after_the_last(store, clock):
    """The first automatic pass starts interval_s after construction, each next one interval_s
    after the previous finished; nothing starts before."""
    _fill(store, 3)
    scrubber = _scrubber(store, clock, interval_s=100.0)
    clock.advance(99.0)
    assert scrubber.step() is False
    assert scrubber.status().passes_completed == 0
    clock.advance(1.0)
    _finish(scrubber)
    assert scrubber.status().passes_completed == 1
    assert scrubber.status().last_pass_finished_unix_ms == clock.wall_ms()
    clock.advance(99.5)
    assert scrubber.step() is False
    assert scrubber.status().passes_completed == 1
    clock.advance(0.5)
    _finish(scrubber)
    assert scrubber.status().passes_completed == 2


def test_interval_zero_means_only_on_request(store, clock):
    _fill(store, 2)
    scrubber = _scrubber(store, clock, interval_s=0.0)
    clock.advance(365 * 24 * 3600.0)
    assert scrubber.step() is False
    assert scrubber.status().passes_completed == 0


def test_request_pass_while_running_is_a_no_op(store, clock):
    """Asking again during a pass neither restarts it (counters keep going) nor queues another."""
    _fill(store, 3)
    scrubber = _scrubber(store, clock)
    assert scrubber.request_pass() is True
    assert scrubber.step(max_copies=1)
    assert scrubber.request_pass() is False
    assert scrubber.status().copies_checked == 1
    _finish(scrubber)
    assert scrubber.status().copies_checked == 3
    assert scrubber.step() is False
    assert scrubber.status().passes_completed == 1


def test_empty_store_pass_completes_at_once(store, clock):
    scrubber = _scrubber(store, clock)
    scrubber.request_pass()
    assert scrubber.step() is False
    assert scrubber.status().passes_completed == 1
    assert scrubber.status().copies_total == 0


def _wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + RUN_DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {RUN_DEADLINE_S} s waiting for {what}"
        time.sleep(0.01)


def test_run_loop_completes_requested_passes_until_stopped(store, clock):
    """run() picks up a request made from another thread, finishes the pass, and returns promptly
    once stop is set."""
    _fill(store, 4)
    scrubber = _scrubber(store, clock)
    stop = threading.Event()
    thread = threading.Thread(target=scrubber.run, args=(stop,))
    thread.start()
    try:
        scrubber.request_pass()
        _wait_until(lambda: scrubber.status().passes_completed == 1, "the requested pass")
        assert scrubber.status().copies_checked == 4
    finally:
        stop.set()
        thread.join(RUN_DEADLINE_S)
    assert not thread.is_alive()


def test_run_loop_survives_a_failing_step(store, clock, caplog):
    """An on_corrupt that raises fails the step: run logs it, abandons the pass (status not
    running) and keeps looping until stop."""
    shares = _fill(store, 2)
    _flip_byte(store, shares[0])
    failed = threading.Event()

    def on_corrupt(share: ShareKey, reason: str) -> None:
        failed.set()
        raise RuntimeError("repair queue closed")

    scrubber = Scrubber(store, clock, 0, 0.0, on_corrupt)
    stop = threading.Event()
    thread = threading.Thread(target=scrubber.run, args=(stop,))
    scrubber.request_pass()
    thread.start()
    try:
        _wait_until(lambda: failed.is_set() and not scrubber.status().running, "the failed step")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(RUN_DEADLINE_S)
    assert not thread.is_alive()
    assert "scrub step failed" in caplog.text
    assert scrubber.status().passes_completed == 0
