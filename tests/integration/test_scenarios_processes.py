"""Shipped fault scenarios that kill, stop and restart processes (short forms): their invariants
hold and their figures are sane for what they did.

One test per scenario, each about 15-30 s: the run starts its own cluster under tmp_path and stops
every process in its `finally`. A failure shows the whole report, whose last line says how to
reproduce it (`cluster-sim scenario run NAME --seed N`). The scenarios are split over two files so
`--dist loadfile` runs them on both workers.
"""

from __future__ import annotations

import importlib.util

import pytest

from scenario_checks import run_short

pytestmark = pytest.mark.skipif(importlib.util.find_spec("node.__main__") is None,
                                reason="noded is not written yet (no node/__main__.py)")


def test_node_crash_is_detected_once_and_repair_moves_what_the_victim_held_to_full_redundancy(tmp_path):
    """node-3 is loaded with a cold set before the kill; repair moves at least the bytes of
    still-current copies and shares it held, the cold ones (never overwritten) among them."""
    report = run_short("node-crash", tmp_path)
    assert [(d.node, d.how) for d in report.detections] == [("node-3", "kill")]
    assert report.detections[0].all_s is not None and report.detections[0].observers == 4
    assert report.victim == "node-3" and report.victim_cold_bytes >= 2 * 4 * 1024 * 1024
    assert report.bytes_moved >= report.victim_bytes >= report.victim_cold_bytes
    assert report.full_redundancy_s is not None


def test_rolling_restart_fails_no_read_and_moves_no_more_than_the_handoff_return(tmp_path):
    report = run_short("rolling-restart", tmp_path)
    assert [d.node for d in report.detections] == ["node-1", "node-2", "node-3", "node-4"]
    assert report.failed_ops("get") == 0
    assert report.bytes_moved <= report.handoff_bytes
    assert report.down_verdicts > 0  # each restarted node was seen DOWN, and every verdict was a true one


def test_flapping_node_is_seen_down_while_frozen_and_nobody_else_is_accused(tmp_path):
    report = run_short("flapping", tmp_path)
    assert [d.how for d in report.detections] == ["stop"] * 3
    assert report.down_verdicts > 0


def test_a_replaced_disk_is_refilled_with_chunks_and_metadata(tmp_path):
    """node-3 restarts empty under the same id: repair writes back at least what it held of
    still-current data, its disk holds every one of those copies/shares again, and it keeps at least
    the metadata records it kept after the cold set."""
    report = run_short("disk-replace", tmp_path)
    assert report.victim == "node-3" and report.victim_cold_bytes >= 2 * 4 * 1024 * 1024
    assert report.bytes_moved >= report.victim_bytes
    assert report.victim_missing_after == 0 and report.victim_copies > 0
    assert report.victim_metadata_after >= report.victim_metadata_min > 0


def test_mass_restart_converges_and_loses_nothing(tmp_path):
    report = run_short("mass-restart", tmp_path)
    assert report.detections == []  # no node was left running to observe
    assert report.full_redundancy_s is not None
