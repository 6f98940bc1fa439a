"""The benchmark suite's pure helpers: percentiles, the table, log and metric parsing, seeded data.

None of these start a process; they pin down the arithmetic and parsing that every printed figure
goes through, so a wrong p99 or a misread log line fails here rather than in docs/performance.md.
"""

from __future__ import annotations

import io
import pathlib
import sys
import time

import pytest

# bench/ is a folder of scripts run from the checkout (`python -m bench`), not an installed package.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from bench.__main__ import inline_text, part_seed, size_label  # noqa: E402
from bench.membership import by_label, first_down_after, loopback_tx_bytes, metric_values  # noqa: E402
from bench.put_get import SEED_BLOCK_BYTES, SeededStream, medians, object_seed, seeded_bytes  # noqa: E402
from bench.report import Row, format_table, format_value, median, percentile  # noqa: E402


@pytest.mark.parametrize("values, q, expected", [
    ([5.0], 0.5, 5.0),
    ([5.0], 0.99, 5.0),
    ([3.0, 1.0, 2.0], 0.5, 2.0),  # unsorted input
    ([1.0, 2.0], 0.5, 1.0),  # nearest rank: a sample, never the mean of two
    ([1.0, 2.0, 3.0, 4.0], 0.75, 3.0),
    (list(range(1, 101)), 0.99, 99),
    (list(range(1, 101)), 1.0, 100),
    (list(range(1, 401)), 0.99, 396),
    ([1.0] * 99 + [1000.0], 0.99, 1.0),  # one outlier in 100 is above p99
    ([1.0] * 98 + [1000.0] * 2, 0.99, 1000.0),
])
def test_percentile_is_nearest_rank(values, q, expected):
    """The q-quantile is the smallest sample with at least q of the samples at or below it."""
    assert percentile(values, q) == expected


def test_median_is_the_half_percentile():
    """median() is the nearest-rank 0.5 quantile."""
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.0


@pytest.mark.parametrize("values, q", [([], 0.5), ([1.0], 0.0), ([1.0], 1.5), ([1.0], -0.1)])
def test_percentile_rejects_no_samples_and_bad_q(values, q):
    """No samples or a q outside (0, 1] is a caller's error, said in one line."""
    with pytest.raises(ValueError):
        percentile(values, q)


@pytest.mark.parametrize("value, text", [
    (None, "-"),
    (float("nan"), "-"),
    (0.0, "0"),
    (12.0, "12"),
    (1234.5, "1,234"),
    (123.4, "123"),
    (12.34, "12.3"),
    (1.234, "1.23"),
    (0.01234, "0.0123"),
    (-0.5, "-0.5"),
])
def test_format_value_keeps_three_significant_figures(value, text):
    """Numbers print with at most three significant figures below 100 and as integers above."""
    assert format_value(value) == text


@pytest.mark.parametrize("row, ratio", [
    (Row("put", 80.0, "MB/s", "dd 800 MB/s", 800.0), 0.1),
    (Row("gossip", 3000.0, "B/s", "target < 2000", 2000.0), 1.5),
    (Row("p50", 2.0, "ms"), None),  # nothing to read it against
    (Row("false DOWNs", 0.0, "verdicts", "target 0", 0.0), None),  # a zero reference has no ratio
])
def test_row_ratio_is_value_over_reference(row, ratio):
    """A row's ratio is its value over its reference, and absent when there is none."""
    assert row.ratio == (pytest.approx(ratio) if ratio is not None else None)
    assert row.to_dict()["ratio"] == row.ratio


def test_format_table_aligns_columns_and_marks_missing_cells():
    """Text columns are left-aligned, numbers right-aligned, and absent cells print as '-'."""
    table = format_table([Row("put 1 GiB, replicas=3", 95.0, "MB/s", "dd 800 MB/s", 800.0),
                          Row("  p99", 12.345, "ms")])
    lines = table.splitlines()
    assert lines[0].split() == ["figure", "value", "unit", "against", "ratio"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["put", "1", "GiB,", "replicas=3", "95", "MB/s", "dd", "800", "MB/s", "0.119"]
    assert lines[3].split() == ["p99", "12.3", "ms", "-", "-"]
    # Every line is as wide as the header's columns allow, values end in the same column.
    value_end = lines[0].index("value") + len("value")
    assert lines[2][:value_end].endswith("95") and lines[3][:value_end].endswith("12.3")
    assert all(not line.endswith(" ") for line in lines)


def _log_line(unix_s: float, text: str) -> str:
    whole = int(unix_s)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(whole))
    return f"{stamp},{round((unix_s - whole) * 1000):03d} INFO node=node-2 node.gossip.membership: {text}\n"


def test_first_down_after_reads_the_first_matching_line_after_the_kill():
    """The detection time is the first ALIVE -> DOWN (or OUT) line about the victim at or after the
    kill; earlier lives, other members and other transitions are skipped."""
    killed = 1_700_000_000.250
    lines = [
        _log_line(killed - 30, "node=node-2 member=node-7 ALIVE -> DOWN (generation 1 incarnation 0)"),
        _log_line(killed + 0.1, "node=node-2 member=node-17 ALIVE -> DOWN (generation 5 incarnation 0)"),
        _log_line(killed + 0.2, "node=node-2 member=node-7 silent 0.80 s; indirect probe via node-3"),
        _log_line(killed + 0.612, "node=node-2 member=node-7 ALIVE -> DOWN (generation 2 incarnation 0)"),
        _log_line(killed + 9.0, "node=node-2 member=node-7 DOWN -> OUT (generation 2 incarnation 0)"),
    ]
    assert first_down_after(lines, "node-7", killed) == pytest.approx(killed + 0.612, abs=1e-6)
    assert first_down_after(lines, "node-17", killed) == pytest.approx(killed + 0.1, abs=1e-6)
    assert first_down_after(lines, "node-7", killed + 1) == pytest.approx(killed + 9.0, abs=1e-6)
    assert first_down_after(lines, "node-3", killed) is None
    assert first_down_after(["garbage\n", ""], "node-7", killed) is None


METRICS_TEXT = """\
# HELP ringstore_gossip_bytes_total Serialized bytes of membership messages.
# TYPE ringstore_gossip_bytes_total counter
ringstore_gossip_bytes_total{direction="sent",kind="heartbeat"} 1200.0
ringstore_gossip_bytes_total{direction="sent",kind="sync"} 800.0
ringstore_gossip_bytes_total{direction="received",kind="heartbeat"} 1100.0
# HELP ringstore_member_down_total Transitions of a member to DOWN as seen by this node.
# TYPE ringstore_member_down_total counter
ringstore_member_down_total{member="node-4"} 2.0
# HELP ringstore_members Members known to this node, by state.
# TYPE ringstore_members gauge
ringstore_members{state="ALIVE"} 10.0
"""


def test_metric_values_and_by_label_sum_the_right_samples():
    """Samples are read by full name with their labels, and summed per label value."""
    values = metric_values(METRICS_TEXT, "ringstore_gossip_bytes_total")
    assert values[(("direction", "sent"), ("kind", "sync"))] == 800.0
    assert len(values) == 3
    assert by_label(values, "direction", "sent", "kind") == {"heartbeat": 1200.0, "sync": 800.0}
    assert by_label(values, "direction", "received", "kind") == {"heartbeat": 1100.0}
    assert metric_values(METRICS_TEXT, "ringstore_member_down_total") == {(("member", "node-4"),): 2.0}
    assert metric_values(METRICS_TEXT, "ringstore_gossip_messages_total") == {}


def test_seeded_stream_reads_the_seeded_bytes_in_any_frames_and_seeks():
    """A SeededStream yields exactly seeded_bytes(seed, size), whatever the read sizes, reports its
    size through seek(0, SEEK_END) as the client expects, and replays from a seek."""
    seed = object_seed(7, "big-ec=4+2-64")
    expected = seeded_bytes(seed, 10_000)
    stream = SeededStream(seed, 10_000)
    assert stream.seekable() and stream.tell() == 0
    assert stream.seek(0, io.SEEK_END) == 10_000
    stream.seek(0)
    parts = [stream.read(4096), stream.read(4096), stream.read(4096), stream.read(4096)]
    assert b"".join(parts) == expected and parts[-1] == b""
    stream.seek(9_000)
    assert stream.read() == expected[9_000:]
    stream.seek(-10, io.SEEK_CUR)
    assert stream.read(3) == expected[-10:-7]
    with pytest.raises(ValueError):
        stream.seek(-1)


def test_every_block_of_a_seeded_object_differs_and_reads_the_same_across_block_edges():
    """Objects are made of one shared block with a per-object, per-block tag: no two MiB of an object
    may be equal (a chunk or share stored once for two would flatter the bench), and a read that
    starts before a block's edge or inside its tag gives the same bytes as the whole object."""
    seed = object_seed(3, "m")
    size = 3 * SEED_BLOCK_BYTES + 100
    whole = seeded_bytes(seed, size)
    assert len({whole[i:i + SEED_BLOCK_BYTES] for i in range(0, 3 * SEED_BLOCK_BYTES, SEED_BLOCK_BYTES)}) == 3
    stream = SeededStream(seed, size)
    stream.seek(SEED_BLOCK_BYTES - 10)
    assert stream.read(50) == whole[SEED_BLOCK_BYTES - 10:SEED_BLOCK_BYTES + 40]
    stream.seek(2 * SEED_BLOCK_BYTES + 5)
    assert stream.read(10) == whole[2 * SEED_BLOCK_BYTES + 5:2 * SEED_BLOCK_BYTES + 15]
    assert stream.read() == whole[2 * SEED_BLOCK_BYTES + 15:]


def test_object_seeds_differ_by_run_and_name():
    """Objects of the same run differ, and the same name differs between seeds (no dedup flattery)."""
    assert seeded_bytes(object_seed(1, "a"), 64) != seeded_bytes(object_seed(1, "b"), 64)
    assert seeded_bytes(object_seed(1, "a"), 64) != seeded_bytes(object_seed(2, "a"), 64)
    assert seeded_bytes(object_seed(1, "a"), 64) == seeded_bytes(object_seed(1, "a"), 64)


def test_part_seed_depends_only_on_the_run_seed_and_the_part():
    """`--only` does not change what a part does: its seed comes from the run's seed and its name."""
    assert part_seed(42, "membership") == part_seed(42, "membership")
    assert part_seed(42, "membership") != part_seed(42, "lan")
    assert part_seed(42, "membership") != part_seed(43, "membership")


@pytest.mark.parametrize("mib, text", [(1, "1 MiB"), (64, "64 MiB"), (1024, "1 GiB"), (1536, "1536 MiB")])
def test_size_label(mib, text):
    """Object sizes print in the unit the issue names them in."""
    assert size_label(mib) == text


@pytest.mark.parametrize("inline, text", [([True], ", inline"), ([False], ", not inline"), ([False, True], "")])
def test_inline_text_says_how_small_objects_were_stored(inline, text):
    """A put run says whether the node kept its 4 KiB objects in the manifest, or that it mixed."""
    assert inline_text({"inline": inline}) == text


NET_DEV_HEADER = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
"""


@pytest.mark.parametrize("interfaces, expected", [
    (["    lo:  5000  40  0  0  0  0  0  0  7000  50  0  0  0  0  0  0"], 7000),
    (["    lo:  5000  40  0  0  0  0  0  0  7000  50  0  0  0  0  0  0",
      "  eth0: 900  9  0  0  0  0  0  0  800  8  0  0  0  0  0  0"], None),  # shared namespace
    (["  eth0: 900  9  0  0  0  0  0  0  800  8  0  0  0  0  0  0"], None),
])
def test_loopback_bytes_only_in_a_namespace_of_its_own(interfaces, expected):
    """Loopback transmit bytes count as the run's wire traffic only when lo is the only interface."""
    assert loopback_tx_bytes(NET_DEV_HEADER + "\n".join(interfaces) + "\n") == expected


def test_tls_cost_rounds_are_summarised_by_each_figures_median():
    """--tls-cost's rounds become one result of the same shape: each number its median over the
    rounds (nearest rank), anything else (labels, lists, flags) from the first round."""
    rounds = [
        {"transport": "TLS", "big": {"put_mb_s": 90.0, "chunks": 256}, "small": {"put_c1": {"inline": [True]}},
         "ok": True},
        {"transport": "TLS", "big": {"put_mb_s": 110.0, "chunks": 256}, "small": {"put_c1": {"inline": [False]}},
         "ok": False},
        {"transport": "TLS", "big": {"put_mb_s": 100.0, "chunks": 256}, "small": {"put_c1": {"inline": [False]}},
         "ok": False},
    ]
    assert medians(rounds) == {"transport": "TLS", "big": {"put_mb_s": 100.0, "chunks": 256},
                               "small": {"put_c1": {"inline": [True]}}, "ok": True}


def test_manifest_write_bench_measures_single_and_grouped_commits(tmp_path):
    from bench import manifest_write

    for batch in (1, 4):
        document = manifest_write.main(["--count", "40", "--rounds", "1", "--batch", str(batch),
                                        "--json", str(tmp_path / f"mw-{batch}.json")])
        assert document["batch"] == batch and document["count"] == 40
        assert document["cpu_us_per_write"] > 0
        assert (tmp_path / f"mw-{batch}.json").exists()
