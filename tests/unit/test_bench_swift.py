"""`python -m bench --with-swift`'s pure parts: reading the Swift harness's results and pairing them
with the suite's figures into the rows of issue 15's table.

No Swift and no cluster here: a sample of the harness's bench.py JSON and ceiling.txt, and the
suite's part results in the shape bench.__main__ stores them, so a misread field or a ratio turned
the wrong way up fails here rather than in a comparison on a quiet machine.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

# bench/ is a folder of scripts run from the checkout (`python -m bench`), not an installed package.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from bench import swift  # noqa: E402

MIB = 1024 * 1024


def measurement(policy, op, size, conc, ops, secs, cpu_ours_s, *, mb_s=0.0, ops_s=0.0, foreign=0.0, errors=0):
    return {"label": f"{policy} {op} {size} x{ops} c={conc}", "secs": secs, "ops": ops, "ops_s": ops_s,
            "MB_s": mb_s, "MiB_s": 0.0, "errors": errors, "cpu_ours_s": cpu_ours_s, "cpu_foreign_s": foreign,
            "load1_start": 0.5, "policy": policy, "run": 0, "op": op, "size": size, "conc": conc}


SWIFT_RUNS = [
    measurement("rep3", "PUT", "1MiB", 1, 200, 4.56, 7.1, mb_s=46.0),
    measurement("rep3", "GET", "1MiB", 1, 200, 1.54, 2.1, mb_s=136.0),
    measurement("rep3", "PUT", "64MiB", 1, 1, 0.49, 0.8, mb_s=138.0),
    measurement("rep3", "GET", "64MiB", 1, 1, 0.26, 0.4, mb_s=263.0),
    measurement("rep3", "PUT", "1GiB", 1, 1, 9.42, 16.75, mb_s=114.0),  # 1073.74 MB: 15.6 ms per MB
    measurement("rep3", "GET", "1GiB", 1, 1, 5.74, 9.2, mb_s=187.0, foreign=0.3),
    measurement("rep3", "PUT", "4KiB", 1, 400, 8.3, 13.2, ops_s=48.2),  # 33 ms per op
    measurement("rep3", "PUT", "4KiB", 16, 400, 4.12, 8.0, ops_s=97.0),
    measurement("rep3", "GET", "4KiB", 16, 400, 1.05, 2.0, ops_s=381.0),
    measurement("ec42", "PUT", "1GiB", 1, 1, 10.8, 19.0, mb_s=99.6),
    measurement("ec42", "GET", "1GiB", 0, 0, 0.001, 0.0),  # --n1g 0: a measurement of nothing
]
SWIFT_CEILING = """\
versions: swift 2.30.1-0+deb12u1, swiftclient 1:4.1.0-2, pyeclib 1.6.0-8, python 3.11.2, 2 cores
== ceiling (before) 2026-12-02T10:00:00Z load: 0.10 0.20 0.30
dd 1GiB bs=4M conv=fsync (zeros): 1073741824 bytes (1.1 GB, 1.0 GiB) copied, 3.38717 s, 317 MB/s
cp 1GiB (random, page-cache hot src): 812.34 MB/s without fsync; 401.22 MB/s incl. sync of dst
read 1GiB from page cache (dd to /dev/null): 1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.5 s, 2.1 GB/s
== ceiling (after) 2026-12-02T10:20:00Z load: 1.10 1.20 1.30
dd 1GiB bs=4M conv=fsync (zeros): 1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.474 s, 434 MB/s
cp 1GiB (random, page-cache hot src): 900.00 MB/s without fsync; 450.00 MB/s incl. sync of dst
read 1GiB from page cache (dd to /dev/null): 1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.4 s, 2.7 GB/s
"""


def big_run(put_mb_s, put_cpu, get_mb_s, get_cpu, **extra):
    return {"put_mb_s": put_mb_s, "put_cpu_s_per_mb": put_cpu, "get_mb_s": get_mb_s, "get_cpu_s_per_mb": get_cpu,
            **extra}


def small_run(ops_per_s, p99_ms, cpu_ms_per_op):
    return {"ops": 400, "ops_per_s": ops_per_s, "p50_ms": 5.0, "p99_ms": p99_ms, "cpu_ms_per_op": cpu_ms_per_op}


RSS = {"put_node_rss_hwm_mib": 120.0, "put_client_rss_hwm_mib": 110.0,
       "get_node_rss_hwm_mib": 160.0, "get_client_rss_hwm_mib": 60.0}
OUR_PARTS = {
    "throughput": {
        "nodes": 6, "seconds": 100.0,
        "replicas=3": {"many": big_run(43.1, 0.030, 102.0, 0.012, count=200),
                       "64mib": big_run(87.2, 0.020, 300.0, 0.006, **RSS),
                       "1024mib": big_run(92.0, 0.0198, 515.0, 0.005, **RSS)},
        "ec=4+2": {"many": big_run(17.0, 0.09, 50.6, 0.06, count=200),
                   "1024mib": big_run(79.5, 0.0225, 138.0, 0.02)},
    },
    "small": {
        "nodes": 6, "object_bytes": 4096,
        "replicas=3": {"put_c1": small_run(131.0, 40.0, 9.0), "get_c1": small_run(226.0, 10.0, 6.0),
                       "put_c16": small_run(212.0, 400.0, 7.0), "get_c16": small_run(229.0, 144.0, 5.0)},
    },
}


def by_figure(rows):
    return {row.figure: row for row in rows}


def test_parse_bench_json_takes_final_and_partial_files_and_drops_empty_measurements():
    """The final file is {"runs", "summary"}, a partial one the bare list; zero-object sizes are dropped."""
    final = swift.parse_bench_json(json.dumps({"runs": SWIFT_RUNS, "summary": []}))
    partial = swift.parse_bench_json(json.dumps(SWIFT_RUNS[:3] + [{"label": "x", "skipped": "deadline"}]))
    assert len(final) == len(SWIFT_RUNS) - 1
    assert all(r["ops"] for r in final)
    assert len(partial) == 3


def test_parse_ceiling_reads_both_dd_runs_from_bytes_and_seconds():
    """dd's MB/s comes from its bytes and seconds (its own unit may be GB/s); cp and the read too."""
    found = swift.parse_ceiling(SWIFT_CEILING)
    assert found["versions"].startswith("swift 2.30.1")
    assert found["before"]["dd_conv_fsync_mb_s"] == pytest.approx(317.0, abs=0.5)
    assert found["after"]["dd_conv_fsync_mb_s"] == pytest.approx(434.0, abs=0.5)
    assert found["before"]["cp_mb_s"] == 812.34 and found["before"]["cp_sync_mb_s"] == 401.22
    assert found["after"]["page_cache_read_mb_s"] == pytest.approx(2684.4, abs=0.1)
    assert swift.parse_ceiling("versions: x\n== ceiling (before) now\ndd ...: failed\n") == {"versions": "x",
                                                                                            "before": {}}


def test_swift_figures_derive_cpu_per_mb_and_per_op_from_cpu_ours():
    """CPU per MB is cpu_ours_s over logical MB (10^6 bytes), per op for 4 KiB; rates as bench.py gave them."""
    figures = swift.swift_figures(swift.parse_bench_json(json.dumps(SWIFT_RUNS)))
    put_1g = figures[("rep3", "1GiB", "PUT", 1)]
    assert put_1g["rate"] == 114.0
    assert put_1g["cpu"] == pytest.approx(1000 * 16.75 / (1024 * MIB / 1e6))  # 15.6 ms per MB
    assert figures[("rep3", "1MiB", "PUT", 1)]["cpu"] == pytest.approx(1000 * 7.1 / (200 * MIB / 1e6))
    small = figures[("rep3", "4KiB", "PUT", 1)]
    assert (small["rate"], small["cpu"]) == (48.2, pytest.approx(33.0))  # 13.2 s of CPU over 400 puts
    assert figures[("rep3", "1GiB", "GET", 1)]["cpu_foreign_s"] == 0.3
    assert ("ec42", "1GiB", "GET", 0) not in figures
    assert "cpu_foreign_s > 0 in 1 of" in swift.foreign_cpu_text(figures)
    assert swift.foreign_cpu_text({k: {**f, "cpu_foreign_s": 0.0} for k, f in figures.items()}) == ""


def test_ringstore_figures_use_the_same_keys_in_ms():
    """Our parts' results by Swift's keys: CPU s/MB becomes ms/MB, the 4 KiB runs keep their p99."""
    ours = swift.ringstore_figures(OUR_PARTS)
    assert ours[("rep3", "1GiB", "PUT", 1)] == {"rate": 92.0, "cpu": pytest.approx(19.8), "ops": 1}
    assert ours[("rep3", "1MiB", "GET", 1)]["ops"] == 200
    assert ours[("rep3", "4KiB", "GET", 16)] == {"rate": 229.0, "cpu": 5.0, "p99": 144.0, "ops": 400}
    assert ("ec42", "64MiB", "PUT", 1) not in ours


def test_compare_gives_the_issues_rows_first_with_ratios_targets_and_met():
    """Ratio is Ringstore / Swift (CPU too, lower is better); met reads the target the right way up;
    the p99 row is absolute and has no Swift figure; a side that did not measure shows nothing."""
    swift_side = swift.swift_figures(swift.parse_bench_json(json.dumps(SWIFT_RUNS)))
    rows = swift.compare(swift_side, swift.ringstore_figures(OUR_PARTS), OUR_PARTS)
    assert [row.figure for row in rows[:len(swift.ISSUE_TARGETS)]] == [
        "rep3 1 GiB PUT MB/s", "rep3 1 GiB PUT CPU ms per MB", "rep3 64 MiB PUT MB/s",
        "rep3 1 MiB × 200 PUT c=1 MB/s", "rep3 1 MiB × 200 GET c=1 MB/s", "rep3 1 GiB GET MB/s",
        "ec42 1 GiB PUT MB/s", "ec42 1 GiB PUT CPU ms per MB", "ec42 1 MiB × 200 GET c=1 MB/s", "ec42 1 GiB GET MB/s",
        "rep3 4 KiB PUT c=1 ops/s", "rep3 4 KiB PUT c=16 ops/s", "rep3 4 KiB GET c=16 ops/s",
        "rep3 4 KiB GET c=16 p99 ms"]
    rows_by = by_figure(rows)
    put = rows_by["rep3 1 GiB PUT MB/s"]
    assert put.ratio == pytest.approx(92.0 / 114.0) and put.met is False
    cpu = rows_by["rep3 1 GiB PUT CPU ms per MB"]
    assert cpu.ratio == pytest.approx(1.27, abs=0.01) and cpu.met is False and cpu.target.text(cpu.unit) == "≤ 0.6"
    get = rows_by["rep3 1 GiB GET MB/s"]
    assert get.ratio == pytest.approx(2.75, abs=0.01) and get.met is True
    p99 = rows_by["rep3 4 KiB GET c=16 p99 ms"]
    assert (p99.swift, p99.ringstore, p99.ratio, p99.met) == (None, 144.0, None, False)
    assert p99.target.text(p99.unit) == "≤ 30 ms"
    missing = rows_by["ec42 1 MiB × 200 GET c=1 MB/s"]  # Swift measured no ec42 1 MiB in this sample
    assert (missing.swift, missing.ratio, missing.met) == (None, None, None)
    # every other figure both sides measured, after the issue's rows, without a target
    extra = rows_by["rep3 64 MiB GET MB/s"]
    assert extra.ratio == pytest.approx(300.0 / 263.0) and extra.target is None and extra.met is None
    assert "rep3 1 MiB × 200 PUT c=1 CPU ms per MB" in rows_by and "rep3 4 KiB PUT c=1 CPU ms per op" in rows_by
    assert "ec42 1 GiB GET CPU ms per MB" not in rows_by  # Swift's ec42 1 GiB GET ran no object


def test_rss_rows_hold_the_absolute_memory_targets():
    """Each large put and get of ours: nodes under 150 MiB, the client under 100 MiB."""
    rows = by_figure(swift.rss_rows(OUR_PARTS))
    assert len(rows) == 8  # 64 MiB and 1 GiB of replicas=3, put and get, node and client
    assert rows["rep3 1 GiB PUT node RSS high-water, max over nodes"].met is True
    assert rows["rep3 1 GiB PUT client RSS high-water"].met is False
    assert rows["rep3 64 MiB GET node RSS high-water, max over nodes"].met is False
    assert rows["rep3 64 MiB GET client RSS high-water"].target.text("MiB") == "< 100 MiB"


def test_format_comparison_shows_a_dash_where_a_side_has_nothing():
    """The table's columns, "—" for a missing figure, ratio and target; yes/no for met."""
    rows = [swift.Comparison("rep3 1 GiB PUT MB/s", "MB/s", 114.0, 92.0, swift.Target(">=", 1.3)),
            swift.Comparison("rep3 4 KiB GET c=16 p99 ms", "ms", None, 144.0, swift.Target("<=", 30.0, absolute=True))]
    lines = swift.format_comparison(rows).splitlines()
    assert lines[0].split() == ["figure", "Swift", "Ringstore", "ratio", "target", "met"]
    assert lines[2].split()[-6:] == ["114", "92", "0.81", "≥", "1.3", "no"]
    assert lines[3].split()[-7:] == ["—", "144", "—", "≤", "30", "ms", "no"]


def test_ceilings_text_names_both_halves():
    text = swift.ceilings_text(swift.parse_ceiling(SWIFT_CEILING), 266.4, 1024)
    assert text == ("dd conv=fsync: Swift's half 317 MB/s before, 434 MB/s after (1 GiB, bs=4M); "
                    "Ringstore's half 266 MB/s (1024 MiB, bs=1M)")
    assert "— before, — after" in swift.ceilings_text({}, None, None)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, ["--n1m", "200", "--n64m", "1", "--n1g", "1", "--nsmall", "400"]),
    ({"many_count": 20, "object_mibs": (16, 64), "small_ops": 100}, ["--n1m", "20", "--n64m", "1", "--n1g", "0",
                                                                     "--nsmall", "100"]),
    ({"throughput": False}, ["--n1m", "0", "--n64m", "0", "--n1g", "0", "--nsmall", "400"]),
    ({"small": False}, ["--n1m", "200", "--n64m", "1", "--n1g", "1", "--nsmall", "0"]),
])
def test_bench_args_follow_the_plan(kwargs, expected):
    """The harness runs our plan's counts, only the sizes we measure, at our concurrencies, once."""
    plan = {"many_count": 200, "object_mibs": (64, 1024), "small_ops": 400}
    args = swift.bench_args(**{**plan, **kwargs})
    pairs = dict(zip(args[::2], args[1::2]))
    assert [x for key in ("--n1m", "--n64m", "--n1g", "--nsmall") for x in (key, pairs[key])] == expected
    assert (pairs["--runs"], pairs["--conc-1m"], pairs["--conc-small"], pairs["--policies"]) == ("1", "1", "1,16",
                                                                                                  "rep3,ec42")


def test_first_error_line_prefers_a_line_that_names_the_error():
    lines = ["installing: swift", "E: Unable to locate package swift", "done"]
    assert swift.first_error_line("setup.sh", 100, lines) == "setup.sh exited 100: E: Unable to locate package swift"
    assert swift.first_error_line("bench.sh", 1, []) == "bench.sh exited 1: no output"


RSS_CHECK = """
import os
from bench.put_get import RssHighWater, status_mib

MIB = 1024 * 1024
meter = RssHighWater([os.getpid()])  # this process stands in for a node as well
meter.reset()
buffer = bytearray(64 * MIB)
buffer[::4096] = b"\\1" * (len(buffer) // 4096)
first = meter.read("put")
assert first["put_client_rss_hwm_mib"] >= first["put_rss_at_start_mib_by_pid"]["client"] + 60, first
assert first["put_node_rss_hwm_mib"] == first["put_rss_hwm_mib_by_pid"][str(os.getpid())]
del buffer
meter.reset()
second = meter.read("get")
if second["get_rss_reset"]:
    assert second["get_client_rss_hwm_mib"] < first["put_client_rss_hwm_mib"] - 50, (first, second)
assert status_mib("self", "VmRSS") <= status_mib("self")
print("ok")
"""


def test_rss_high_water_covers_one_operation_of_this_process():
    """The bench's RSS meter: a 64 MiB buffer touched between reset() and read() shows in the
    client's (the process's) high-water mark, and, where the kernel allows the reset, is gone from
    the next operation's once freed. In a fresh process: a test worker's resident set also moves
    with whatever threads earlier tests left running in it (gRPC's, a cluster's status readers)."""
    done = subprocess.run([sys.executable, "-c", RSS_CHECK], capture_output=True, text=True, timeout=60,
                          cwd=pathlib.Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def fake_harness(directory: pathlib.Path, setup: str, bench: str) -> pathlib.Path:
    """A harness of four tiny scripts; teardown.sh leaves a mark so the test sees it ran."""
    scripts = {"setup.sh": setup, "bench.sh": bench, "bench.py": "",
               "teardown.sh": 'echo "stopped 0 recorded process groups"; rm -rf "$SWIFT_PEER_ROOT"\n'
                              'touch "$SWIFT_PEER_ROOT.torn-down"\n'}
    for name, text in scripts.items():
        (directory / name).write_text(text)
    return directory


def test_run_harness_reads_the_results_before_teardown_removes_them(tmp_path):
    """setup, bench with the arguments, then teardown; the files are read while they still exist."""
    root = tmp_path / "peer"
    results = json.dumps({"runs": SWIFT_RUNS[:2], "summary": []})
    bench = (f'mkdir -p "$SWIFT_PEER_ROOT/results"; echo "$@" > "$SWIFT_PEER_ROOT.args"\n'
             f"cat > \"$SWIFT_PEER_ROOT/results/bench-results.json\" <<'X'\n{results}\nX\n"
             f"cat > \"$SWIFT_PEER_ROOT/results/ceiling.txt\" <<'X'\n{SWIFT_CEILING}X\n")
    harness = fake_harness(tmp_path, 'mkdir -p "$SWIFT_PEER_ROOT/run"; echo up\n', bench)
    echoed: list[str] = []
    out = swift.run_harness(harness, str(root), ["--n1m", "20"], echo=echoed.append)
    assert json.loads(out["bench-results.json"])["runs"] == SWIFT_RUNS[:2]
    assert swift.parse_ceiling(out["ceiling.txt"])["after"]["dd_conv_fsync_mb_s"] == pytest.approx(434, abs=0.5)
    assert pathlib.Path(f"{root}.args").read_text().split() == ["--n1m", "20"]
    assert pathlib.Path(f"{root}.torn-down").exists() and not root.exists()
    assert {step: s["rc"] for step, s in out["steps"].items()} == {"setup": 0, "bench": 0, "teardown": 0}
    assert "  swift setup: up" in echoed and out["left_running"] == []


def test_run_harness_tears_down_after_a_failed_setup_and_says_why(tmp_path):
    """apt failing in setup.sh: no bench, teardown still runs, and the error names the step and the line."""
    root = tmp_path / "peer"
    setup = 'echo "installing: swift"; echo "E: Unable to locate package swift" >&2; exit 100\n'
    harness = fake_harness(tmp_path, setup, 'touch "$SWIFT_PEER_ROOT.benched"\n')
    with pytest.raises(swift.SwiftError) as failed:
        swift.run_harness(harness, str(root), [], echo=lambda line: None)
    assert str(failed.value) == "setup.sh exited 100: E: Unable to locate package swift"
    assert failed.value.detail["steps"]["teardown"]["rc"] == 0
    assert pathlib.Path(f"{root}.torn-down").exists() and not pathlib.Path(f"{root}.benched").exists()


def test_run_harness_fails_when_bench_py_ended_early(tmp_path):
    """bench.sh exits 0 when bench.py fails (to measure the ceiling after): the run still fails."""
    harness = fake_harness(tmp_path, "true\n", 'echo "bench.py ended early (rc=1); partial JSON kept"\n')
    with pytest.raises(swift.SwiftError, match="bench.py ended early"):
        swift.run_harness(harness, str(tmp_path / "peer"), [], echo=lambda line: None)


def test_preflight_refuses_before_anything_starts(tmp_path, monkeypatch):
    """Not root, no harness, or a Swift peer already running there: refused in one line."""
    harness = fake_harness(tmp_path, "true\n", "true\n")
    monkeypatch.setattr(swift, "listening_ports", lambda ports: [])
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert swift.preflight(harness, str(tmp_path / "peer")).startswith("--with-swift needs root")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert swift.preflight(harness, str(tmp_path / "peer")) == ""
    assert "no Swift harness at" in swift.preflight(tmp_path / "nowhere", str(tmp_path / "peer"))
    (tmp_path / "peer" / "run").mkdir(parents=True)
    (tmp_path / "peer" / "run" / "proxy-server.pid").write_text("12345\n")
    assert "a Swift peer already runs under" in swift.preflight(harness, str(tmp_path / "peer"))
    monkeypatch.setattr(swift, "listening_ports", lambda ports: [18080])
    assert "ports are in use (18080)" in swift.preflight(harness, str(tmp_path / "elsewhere"))


def test_the_comparison_says_quick_only_for_the_quick_plan():
    """The header reads the plan, not the classmethod that builds the quick one (always truthy):
    a full run was once labelled "quick: small samples, noisy"."""
    from bench.__main__ import Plan
    assert Plan.quick().is_quick and not Plan.full().is_quick
