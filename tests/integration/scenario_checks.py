"""Runs one shipped fault scenario's short form and checks what every scenario must hold."""

from __future__ import annotations

from pathlib import Path

from cluster_sim.scenarios import Report, load, run

SEED = 20261121


def run_short(name: str, tmp_path: Path) -> Report:
    lines: list[str] = []
    report = run(load(name), seed=SEED, directory=tmp_path / name, progress=lines.append)
    assert report.ok, "\n".join(["progress:", *lines, "", report.text()])
    assert report.lost_writes == 0 and report.wrong_reads == 0 and report.false_down == 0
    assert report.keys_checked > 0 and report.ops["put"].done > 0 and report.ops["get"].done > 0
    return report
