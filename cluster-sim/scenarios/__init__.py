"""Fault scenarios: a seeded workload and a fault schedule run against a LocalCluster, then judged.

Layers, each importing only those before it:
`spec` (TOML scenario files, validated) -> `checker` (legal values per key: wrong reads, lost
writes) -> `accounting` (node counters added up across restarts; true and false DOWN verdicts) ->
`workload` (seeded worker threads, the node pool) -> `cold` (the cold set loaded onto the victim,
what it held of still-current data) -> `schedule` (each fault step on the cluster, detection
times) -> `report` (figures, invariants, text and JSON) -> `runner` (the phases of a run) ->
`soak` (many seeds of many scenarios, one after another, and their pass table).
`spec`, `checker`, `accounting`, the yardstick of `cold`, `report.judge` and `soak` are pure and
unit-tested; the rest drive real processes and are exercised by tests/integration/test_scenario*.py.

The shipped scenarios are the `*.toml` files beside this module; `cluster-sim scenario list` names
them, `cluster-sim scenario run NAME|FILE` runs one and `cluster-sim scenario soak [NAME...] --seeds A-B`
runs many (see docs/operations.md, "Fault scenarios").
"""

from cluster_sim.scenarios.report import Invariant, Report
from cluster_sim.scenarios.runner import run
from cluster_sim.scenarios.spec import Scenario, SpecError, load, parse, shipped_names

__all__ = ["Invariant", "Report", "Scenario", "SpecError", "load", "parse", "run", "shipped_names"]
