"""Unit tests for `cluster-sim scenario soak`: seed ranges, the order of runs, the pass table, the
JSON document and the exit code with the reproduce lines of failures. A fake runner stands in for
real runs (each is a whole cluster for 20-60 s); tests/integration/test_scenario_soak.py runs a
real soak."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cluster_sim import cli
from cluster_sim.scenarios import shipped_names
from cluster_sim.scenarios.soak import SEEDS_MAX, SoakRun, parse_seeds, soak, table


@pytest.mark.parametrize("text,seeds", [("1-3", [1, 2, 3]), ("7", [7]), (" 4-4 ", [4])])
def test_seeds_are_one_seed_or_a_range(text, seeds):
    """`--seeds` takes one seed or an inclusive range A-B."""
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text,fragment", [
    ("3-1", "the range ends before it starts"), ("a-b", "is not a seed or a range A-B"),
    ("1,2", "is not a seed or a range"), (f"1-{SEEDS_MAX + 1}", f"at most {SEEDS_MAX} per soak"),
])
def test_bad_seed_ranges_are_one_line_errors(text, fragment):
    """A reversed, non-numeric, listed or too long range is refused with a message saying why."""
    with pytest.raises(ValueError, match=fragment):
        parse_seeds(text)


def fake_run(failing: set[tuple[str, int]]):
    calls: list[tuple[str, int]] = []

    def run_one(name: str, seed: int) -> SoakRun:
        calls.append((name, seed))
        ok = (name, seed) not in failing
        return SoakRun(scenario=name, seed=seed, ok=ok, run_s=10.0 + seed, directory=f"/tmp/{name}-{seed}",
                       reproduce=f"cluster-sim scenario run {name} --seed {seed}",
                       failures=() if ok else ("bytes moved >= 1: repair moved 0 bytes",))

    return run_one, calls


def test_every_scenario_runs_on_every_seed_in_order_and_the_table_counts_them():
    """Runs go scenario by scenario, seeds in order, a progress call after each; the table has a
    column per seed, pass/fail counts and mean/longest duration, and names each failure's failed
    invariants, kept logs and reproduce line."""
    run_one, calls = fake_run({("node-crash", 3)})
    lines: list[str] = []
    runs = soak(["node-crash", "bitrot"], [2, 3], run_one, lambda run, done, total: lines.append(f"{done}/{total}"))
    assert calls == [("node-crash", 2), ("node-crash", 3), ("bitrot", 2), ("bitrot", 3)]
    assert lines == ["1/4", "2/4", "3/4", "4/4"]
    text = table(runs)
    rows = [line.split() for line in text.splitlines()[:3]]
    assert rows == [["SCENARIO", "2", "3", "PASS", "FAIL", "MEAN", "S", "MAX", "S"],
                    ["node-crash", "ok", "FAIL", "1", "1", "12.5", "13.0"],
                    ["bitrot", "ok", "ok", "2", "0", "12.5", "13.0"]]
    assert "  node-crash seed 3:\n    bytes moved >= 1: repair moved 0 bytes\n" in text
    assert "logs kept in /tmp/node-crash-3" in text
    assert "reproduce with: cluster-sim scenario run node-crash --seed 3" in text
    assert text.endswith("4 runs: 3 passed, 1 failed, 50 s in all")


def test_the_cli_soaks_every_shipped_scenario_by_default_and_exits_1_naming_each_failure(monkeypatch):
    """No names: every shipped scenario, the form asked for; a progress line per run; exit 1 with one
    `run failed` line (reproduce command and logs) per failure, no traceback."""
    run_one, calls = fake_run({("partition", 1), ("disk-replace", 2)})
    forms: list[bool] = []
    monkeypatch.setattr(cli, "_SOAK_RUN_ONE", lambda full: forms.append(full) or run_one)
    result = CliRunner().invoke(cli.main, ["scenario", "soak", "--seeds", "1-2", "--full"])
    assert result.exit_code == 1 and forms == [True]
    assert sorted({name for name, _ in calls}) == shipped_names() and len(calls) == 2 * len(shipped_names())
    failed = [line for line in result.stderr.splitlines() if line.startswith("cluster-sim: run failed:")]
    assert failed == ["cluster-sim: run failed: cluster-sim scenario run disk-replace --seed 2 "
                      "(logs in /tmp/disk-replace-2)",
                      "cluster-sim: run failed: cluster-sim scenario run partition --seed 1 (logs in /tmp/partition-1)"]
    assert sum("] [" in line for line in result.stderr.splitlines()) == len(calls)  # a progress line per run
    assert "SCENARIO" in result.stdout and "Traceback" not in result.output


def test_the_cli_json_is_machine_readable_and_a_clean_soak_exits_0(monkeypatch):
    """--json: ok, form, seeds, per-scenario counts and durations, every run; exit 0 when all pass."""
    run_one, _ = fake_run(set())
    monkeypatch.setattr(cli, "_SOAK_RUN_ONE", lambda full: run_one)
    result = CliRunner().invoke(cli.main, ["scenario", "soak", "node-crash", "bitrot", "--seeds", "5-6", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["form"] == "short" and document["seeds"] == [5, 6]
    assert document["scenarios"]["bitrot"] == {"passed": 2, "failed": 0, "mean_s": 15.5, "max_s": 16.0}
    assert [(run["scenario"], run["seed"], run["ok"]) for run in document["runs"]] == [
        ("node-crash", 5, True), ("node-crash", 6, True), ("bitrot", 5, True), ("bitrot", 6, True)]


@pytest.mark.parametrize("args,fragment", [
    (["nope", "--seeds", "1-2"], "cluster-sim: error: no scenario 'nope'"),
    (["node-crash", "--seeds", "9-1"], "cluster-sim: error: --seeds '9-1': the range ends before it starts"),
])
def test_the_cli_refuses_bad_names_and_seeds_before_running_anything(monkeypatch, args, fragment):
    """An unknown scenario or a bad range is one error line and exit 1, before any cluster starts."""
    run_one, calls = fake_run(set())
    monkeypatch.setattr(cli, "_SOAK_RUN_ONE", lambda full: run_one)
    result = CliRunner().invoke(cli.main, ["scenario", "soak", *args])
    assert result.exit_code == 1 and calls == []
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and fragment in result.stderr


def test_a_failed_run_keeps_its_whole_report_beside_its_logs(monkeypatch, tmp_path):
    """The real run_one writes report.txt into the directory a failed run kept (a passed run's
    directory is gone, so nothing is written for it)."""
    from cluster_sim.scenarios.report import Report, judge
    from cluster_sim.scenarios.spec import Expect

    def failing_run(spec, *, seed, name_or_file):
        report = Report(scenario=spec.name, description="d", form="short", seed=seed, nodes=5,
                        directory=str(tmp_path), reproduce=f"cluster-sim scenario run {name_or_file} --seed {seed}",
                        errors=["steps[0] (kill node-3): boom"])
        report.invariants = judge(report, Expect())
        return report

    monkeypatch.setattr(cli.scenarios, "run", failing_run)
    result = CliRunner().invoke(cli.main, ["scenario", "soak", "node-crash", "--seeds", "4"])
    assert result.exit_code == 1
    kept = (tmp_path / "report.txt").read_text()
    assert "FAIL schedule and workload ran: steps[0] (kill node-3): boom" in kept
    assert kept.rstrip().endswith("reproduce with: cluster-sim scenario run node-crash --seed 4")
    assert f"logs kept in {tmp_path}" in result.stdout
