"""`cluster-sim scenario soak` for real: one short shipped scenario on two seeds, each a whole
cluster of noded processes started and stopped by the runner, one after the other."""

from __future__ import annotations

import importlib.util
import json
import tempfile

import pytest
from click.testing import CliRunner

from cluster_sim.cli import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("node.__main__") is None,
                                reason="noded is not written yet (no node/__main__.py)")


def test_a_real_soak_runs_each_seed_once_and_reports_both_passing(tmp_path, monkeypatch):
    """Two seeds of `partition` run in turn: a progress line each, a JSON document naming both runs
    as passed, exit 0, and the passed runs' temporary directories removed."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the runs' temporary clusters go under tmp_path
    result = CliRunner().invoke(main, ["scenario", "soak", "partition", "--seeds", "1-2", "--json"])
    document = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert [(run["scenario"], run["seed"], run["ok"]) for run in document["runs"]] == [
        ("partition", 1, True), ("partition", 2, True)]
    assert document["scenarios"]["partition"]["passed"] == 2 and document["ok"] is True
    progress = [line for line in result.stderr.splitlines() if "partition seed" in line]
    assert [line.split("] ", 1)[1].split(":")[0] for line in progress] == ["[1/2] partition seed 1",
                                                                           "[2/2] partition seed 2"]
    assert list(tmp_path.iterdir()) == []
