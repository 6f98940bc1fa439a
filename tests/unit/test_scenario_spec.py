"""Unit tests for the pure parts of cluster-sim scenarios: the TOML schema and its one-line errors,
the schedule's sequence checks, the checker's legal-value sets, the counter ledger's false-DOWN
accounting, and the invariants judged on a report. Nothing here starts a node."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from cluster_sim.cli import main
from cluster_sim.scenarios import SpecError, load, parse, shipped_names
from cluster_sim.scenarios.accounting import Ledger, by_label, total
from cluster_sim.scenarios.checker import ABSENT, ERROR, Checker
from cluster_sim.scenarios.report import Report, judge
from cluster_sim.scenarios.schedule import Detection
from cluster_sim.scenarios.spec import Expect
from cluster_sim.scenarios.workload import OpCounts, payload, policy_arguments, worker_keys

ISSUE_SCENARIOS = {"node-crash", "rolling-restart", "flapping", "mass-restart", "bitrot", "disk-full", "partition",
                   "slow-node", "disk-replace"}

BASE = """
name = "demo"
description = "a scenario for tests"
nodes = 4

[workload]
duration_s = 10
workers = 2
keys = 8
size_bytes_max = 4096
policies = ["replicas=3", "ec=2+1"]
ops = { put = 1, get = 1 }
"""


COLD = """
[cold]
node = "node-2"
size_bytes = 4096
object_size_bytes = 1024
"""
KILL_2 = 'action = "kill"\nnode = "node-2"'


def doc(extra: str = "", base: str = BASE) -> str:
    return base + extra


def steps(*tables: str) -> str:
    return "".join(f"\n[[steps]]\n{table}\n" for table in tables)


# ------------------------------------------------------------------------------------ shipped files


def test_every_issue_scenario_is_shipped_and_both_forms_validate():
    """The nine scenarios of the issue ship; each parses in its short and full form, the short one
    fits CI (3-6 nodes, at most 40 s of workload) and the full one is at least as long."""
    assert set(shipped_names()) >= ISSUE_SCENARIOS
    for name in shipped_names():
        short, full = load(name), load(name, full=True)
        assert short.name == name and not short.full and full.full
        assert 3 <= short.nodes <= 6 and short.workload.duration_s <= 40, name
        assert full.workload.duration_s > short.workload.duration_s, name
        assert full.workload.keys >= short.workload.keys, name


def test_a_scenario_needs_fault_injection_only_for_partition_and_slow_steps():
    assert load("partition").needs_fault_injection and load("slow-node").needs_fault_injection
    assert not load("node-crash").needs_fault_injection


def test_restart_each_expands_to_one_restart_per_node_in_order():
    scenario = parse(doc(steps('at_s = 1\naction = "restart"\nnode = "each"\nmaintenance_s = 60')), source="t.toml")
    assert [(s.action, s.node, s.at_s, s.maintenance_s) for s in scenario.steps] == [
        ("restart", "node-1", 1.0, 60), ("restart", "node-2", None, 60), ("restart", "node-3", None, 60),
        ("restart", "node-4", None, 60)]


def test_full_overrides_nodes_workload_keys_and_steps_only_when_asked():
    text = doc(steps('at_s = 2\naction = "kill"\nnode = "node-2"') + """
[full]
nodes = 6
workload = { duration_s = 100, keys = 50 }
steps = [{ at_s = 50, action = "kill", node = "node-6" }]
""")
    short, full = parse(text, source="t.toml"), parse(text, source="t.toml", full=True)
    assert (short.nodes, short.workload.duration_s, short.workload.keys, short.steps[0].node) == (4, 10.0, 8, "node-2")
    assert (full.nodes, full.workload.duration_s, full.workload.keys, full.steps[0].node) == (6, 100.0, 50, "node-6")
    assert full.workload.workers == short.workload.workers


def test_the_cold_set_names_a_victim_a_step_hits_and_full_overrides_its_sizes():
    """[cold] parses into Cold (victim, bytes per policy, object size); [full] cold overrides only the
    keys it names; replace-disk counts as hitting the victim and leaves it running for later steps."""
    text = doc(COLD + steps('at_s = 2\naction = "replace-disk"\nnode = "node-2"\ntimeout_s = 30',
                            'action = "kill"\nnode = "node-2"')
               + "[expect]\nbytes_moved_covers_victim = true\nvictim_refilled = true\n"
               + "[full]\ncold = { size_bytes = 8192 }\n")
    short, full = parse(text, source="t.toml"), parse(text, source="t.toml", full=True)
    assert (short.cold.node, short.cold.size_bytes, short.cold.object_size_bytes) == ("node-2", 4096, 1024)
    assert (full.cold.node, full.cold.size_bytes, full.cold.object_size_bytes) == ("node-2", 8192, 1024)
    assert short.expect.bytes_moved_covers_victim and short.expect.victim_refilled
    assert [(step.action, step.timeout_s) for step in short.steps] == [("replace-disk", 30.0), ("kill", 60.0)]
    assert parse(doc(steps(KILL_2)), source="t.toml").cold is None


def test_the_shipped_repair_scenarios_judge_repair_against_a_cold_set_on_their_victim():
    """node-crash and disk-replace load the node they hit with a cold set in both forms and judge
    repair by what it held, not by "some bytes"; disk-replace also wants the victim refilled."""
    for name in ("node-crash", "disk-replace"):
        for full in (False, True):
            scenario = load(name, full=full)
            hit = [step.node for step in scenario.steps if step.action in ("kill", "replace-disk")]
            assert scenario.cold is not None and hit == [scenario.cold.node], (name, full)
            assert scenario.cold.size_bytes >= 4 * 1024 * 1024, (name, full)
            assert scenario.expect.bytes_moved_covers_victim and scenario.expect.bytes_moved_min is None
    assert load("disk-replace").expect.victim_refilled and not load("node-crash").expect.victim_refilled
    assert [step.action for step in load("disk-replace").steps] == ["replace-disk"]


def test_node_settings_and_settings_become_strings():
    scenario = parse(doc('[settings]\n"repair.gc_grace_s" = 3\n[node_settings.node-4]\n'
                         '"storage.disk_bytes_max" = 1000\n'), source="t.toml")
    assert scenario.settings == {"repair.gc_grace_s": "3"}
    assert scenario.node_settings == {"node-4": {"storage.disk_bytes_max": "1000"}}


# ------------------------------------------------------------------------------------ one-line errors


@pytest.mark.parametrize("text,fragment", [
    ("name = ", "t.toml: not valid TOML"),
    (BASE.replace('nodes = 4', 'nodes = 9'), "t.toml: nodes: must be an integer in 3..6, got 9"),
    (BASE.replace('nodes = 4', 'nodes = "4"'), "nodes: must be an integer in 3..6, got '4'"),
    (BASE.replace('name = "demo"', 'name = "Demo One"'), "name: must be lower-case letters"),
    (BASE.replace('description = "a scenario for tests"\n', ''), "description: missing"),
    ('colour = "red"\n' + BASE, "t.toml: colour: unknown key; allowed: cold, description, expect, full"),
    (BASE.replace("workers = 2", "workers = 0"), "workload.workers: must be an integer in 1..32, got 0"),
    (BASE.replace("keys = 8", "keys = 1"), "workload.keys: must be an integer in 2..100000, got 1"),
    (BASE.replace("keys = 8", "keys = 8\nencrypted = 1"), "workload.encrypted: must be true or false"),
    (BASE.replace('"ec=2+1"', '"ec=4+2"'), "workload.policies[1]: ec=4+2 needs 6 nodes, the scenario has 4"),
    (BASE.replace('"ec=2+1"', '"raid5"'), "workload.policies[1]: must be \"replicas=N\" or \"ec=K+M\""),
    (BASE.replace('"ec=2+1"', '"ec=0+1"'), "workload.policies[1]: ec=0+1 is not a policy"),
    (BASE.replace("put = 1, get = 1", "get = 1"), "workload.ops: needs a weight > 0 for put or overwrite"),
    (BASE.replace("put = 1, get = 1", "put = 1, scan = 1"), "workload.ops.scan: unknown key; allowed: delete"),
    (BASE.replace("size_bytes_max = 4096", "size_bytes_max = 4096\nsize_bytes_min = 5000"),
     "workload.size_bytes_min: must be an integer in 1..4096, got 5000"),
    (doc(steps('action = "explode"')), "steps[0].action: 'explode' is not one of kill, start"),
    (doc(steps('action = "kill"')), "steps[0].node: missing (`kill` takes node)"),
    (doc(steps('action = "kill"\nnode = "node-9"')), "steps[0].node: 'node-9' is not a node of this scenario "
                                                      "(node-1..node-4 or 'all')"),
    (doc(steps('action = "kill"\nnode = "node-2"\nfiles = 3')),
     "steps[0].files: unknown key; allowed: action, at_s, node"),
    (doc(steps('action = "wait"\nfor = "down"')), "steps[0].node: missing (wait for down names a node)"),
    (doc(steps('action = "wait"\nfor = "tea"')), "steps[0].for: 'tea' is not one of alive, down, out, full"),
    (doc(steps('action = "slow"\nnode = "node-2"')), "steps[0]: `slow` needs rpc_ms or disk_ms > 0"),
    (doc(steps('action = "flap"\nnode = "node-2"\ntimes = 2\npause_s = [3, 1]\ngap_s = [1, 2]')),
     "steps[0].pause_s[1]: must be a number >= 3 and <= 600, got 1"),
    (doc(steps('action = "partition"\nnode = "node-2"\npeers = ["node-2"]')), "steps[0].peers: names node-2 itself"),
    (doc(steps('at_s = 10\naction = "kill"\nnode = "node-2"')),
     "steps[0] (kill).at_s: 10 s is not within the workload's 10 s"),
    (doc(steps('at_s = 5\naction = "kill"\nnode = "node-2"', 'at_s = 4\naction = "start"\nnode = "node-2"')),
     "steps[1] (start).at_s: 4 s is before the step before it (5 s)"),
    (doc(steps('action = "start"\nnode = "node-2"')), "steps[0] (start): node-2 is not killed by an earlier step"),
    (doc(steps('action = "kill"\nnode = "node-2"', 'action = "stop"\nnode = "node-2"')),
     "steps[1] (stop): node-2 is killed by an earlier step; `stop` needs it running"),
    (doc(steps('action = "cont"\nnode = "node-2"')), "steps[0] (cont): node-2 is not stopped by an earlier step"),
    (doc(steps('action = "stop"\nnode = "node-2"')), "t.toml: steps: node-2 is left stopped; end with a `cont`"),
    (doc(steps('action = "partition"\nnode = "node-1"\npeers = ["node-2"]')),
     "steps: partition or slow faults are left in force; end with a `heal`"),
    (doc(steps('action = "partition"\nnode = "node-1"\npeers = ["node-2"]', 'action = "stop"\nnode = "node-2"',
               'action = "heal"', 'action = "cont"\nnode = "node-2"')),
     "steps[2] (heal): node-2 is stopped and cannot be healed; cont it first"),
    (doc(steps('action = "kill"\nnode = "all"')), "steps: every node is left killed; end with a `start` of \"all\""),
    (doc(steps('action = "kill"\nnode = "all"', 'action = "scrub"', 'action = "start"\nnode = "all"')),
     "steps[1] (scrub): `scrub` needs a running node, but every node is killed or stopped"),
    (doc('[node_settings.node-2]\n"storage.disk_bytes_max" = 1\n'),
     "node_settings: only the last nodes may have their own settings (they join after the others); with 1 use "
     "node-4..node-4"),
    (doc('[settings]\n"gc grace" = 3\n'), "settings.gc grace: setting names are SECTION.FIELD"),
    (doc('[expect]\nfalse_down_max = -1\n'), "expect.false_down_max: must be an integer in 0.."),
    (doc('[expect]\nbytes_moved_within_handoff = 1\n'), "expect.bytes_moved_within_handoff: must be true or false"),
    (doc('[expect]\nlatency_ms_max = 5\n'),
     "expect.latency_ms_max: unknown key; allowed: bytes_moved_covers_victim, bytes_moved_min"),
    (doc('[full]\nsettings = {}\n'), "full.settings: unknown key; allowed: cold, nodes, steps, workload"),
    (doc(steps('action = "kill"\nnode = "node-2"', 'action = "replace-disk"\nnode = "node-2"')),
     "steps[1] (replace-disk): node-2 is killed by an earlier step; `replace-disk` needs it running"),
    (doc(COLD.replace('size_bytes = 4096\n', '') + steps(KILL_2)), "cold.size_bytes: missing ([cold] takes node, "
                                                                    "size_bytes, object_size_bytes)"),
    (doc(COLD.replace("node-2", "node-3") + steps(KILL_2)),
     "cold.node: node-3 is never killed or replaced by a step (kill, replace-disk)"),
    (doc(COLD.replace("node-2", "node-7") + steps(KILL_2)), "cold.node: 'node-7' is not a node of this scenario"),
    (doc(COLD + steps(KILL_2) + "[full]\ncold = { colour = 1 }\n"), "cold.colour: unknown key; allowed: node"),
    (doc(steps(KILL_2) + "[full]\ncold = { size_bytes = 1 }\n"),
     "full.cold: overrides a [cold] table the scenario does not have"),
    (doc(steps(KILL_2) + "[expect]\nvictim_refilled = true\n"),
     "expect.victim_refilled: needs a [cold] table naming the victim"),
    (doc(COLD + steps(KILL_2) + "[expect]\nbytes_moved_covers_victim = 2\n"),
     "expect.bytes_moved_covers_victim: must be true or false"),
])
def test_bad_scenarios_fail_with_one_line_naming_file_key_and_what_is_allowed(text, fragment):
    with pytest.raises(SpecError) as raised:
        parse(text, source="t.toml", full=True)
    message = str(raised.value)
    assert fragment in message, message
    assert message.startswith("t.toml: ") and "\n" not in message


def test_unknown_names_and_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(SpecError, match=r"no scenario 'nope'; shipped: .*node-crash.* \(or give a path"):
        load("nope")
    with pytest.raises(SpecError, match=r"missing.toml: cannot read"):
        load(str(tmp_path / "missing.toml"))
    own = tmp_path / "mine.toml"
    own.write_text(doc(steps('at_s = 1\naction = "kill"\nnode = "node-3"')))
    assert load(str(own)).steps[0].node == "node-3"


def test_cli_lists_the_scenarios_and_refuses_a_bad_file_in_one_line(tmp_path):
    listed = CliRunner().invoke(main, ["scenario", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0].split() == ["NAME", "SHORT", "FULL", "DESCRIPTION"]
    assert {line.split()[0] for line in listed.output.splitlines()[1:]} == set(shipped_names())
    bad = tmp_path / "bad.toml"
    bad.write_text(doc(steps('action = "kill"\nnode = "node-7"')))
    refused = CliRunner().invoke(main, ["scenario", "run", str(bad)])
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "cluster-sim: error: bad.toml: steps[0].node: 'node-7' is not a node of this scenario "
        "(node-1..node-4 or 'all')"]


# ------------------------------------------------------------------------------------ the checker


def test_legal_values_follow_acknowledged_and_uncertain_writes():
    """Table: after each event, the set a read may return and the set that must survive."""
    checker = Checker()
    events = [
        (lambda: None, {ABSENT}, set()),
        (lambda: checker.put_acknowledged("k", "v1"), {"v1"}, {"v1"}),
        (lambda: checker.put_failed("k", "v2"), {"v1", "v2"}, {"v1"}),
        (lambda: checker.delete_failed("k"), {"v1", "v2", ABSENT}, {"v1"}),
        (lambda: checker.put_acknowledged("k", "v3"), {"v3"}, {"v3"}),
        (lambda: checker.delete_acknowledged("k"), {ABSENT}, {ABSENT}),
        (lambda: checker.put_failed("k", "v4"), {ABSENT, "v4"}, {ABSENT}),
    ]
    for event, legal, acknowledged in events:
        event()
        state = checker.state("k")
        assert (set(state.legal), set(state.acknowledged)) == (legal, acknowledged)


def test_reads_outside_the_legal_set_are_wrong_and_listed():
    checker = Checker()
    checker.put_acknowledged("k", "v1")
    checker.put_failed("k", "v2")
    assert checker.read("k", "v1", at_s=1.0) and checker.read("k", "v2", at_s=1.5)
    assert not checker.read("k", ABSENT, at_s=2.0)
    assert not checker.read("k", "v0", at_s=3.0)
    assert checker.wrong_reads == 2 and checker.lost_writes == 0
    assert checker.wrong_listed[0].line().startswith("get k at 2.00 s returned absent; legal: v1, v2")


def test_a_delete_that_finds_nothing_is_a_wrong_read_when_a_value_was_acknowledged():
    checker = Checker()
    checker.put_failed("maybe", "v1")
    checker.delete_not_found("maybe", at_s=1.0)  # the failed put may not have landed: fine
    checker.put_acknowledged("sure", "v1")
    checker.delete_not_found("sure", at_s=2.0)
    assert checker.wrong_reads == 1 and checker.wrong_listed[0].op == "delete"
    assert checker.state("sure").legal == {ABSENT}


@pytest.mark.parametrize("history,observed,wrong,lost", [
    (["ack v1"], "v1", 0, 0),
    (["ack v1"], ABSENT, 1, 1),  # an acknowledged value gone
    (["ack v1"], "v0", 1, 1),  # wrong bytes for an acknowledged value
    (["ack v1"], ERROR, 0, 1),  # unreadable at the end
    (["ack v1", "fail v2"], "v2", 0, 0),  # the uncertain put landed
    (["ack v1", "fail v2"], ABSENT, 1, 1),
    (["fail v1"], ABSENT, 0, 0),  # nothing was acknowledged
    (["fail v1"], ERROR, 0, 0),
    (["ack v1", "delete"], ABSENT, 0, 0),
    (["ack v1", "delete"], "v1", 1, 0),  # a deleted object came back: wrong, but nothing was lost
    (["ack v1", "delete"], ERROR, 0, 0),
])
def test_final_read_back_counts_lost_writes_and_wrong_reads(history, observed, wrong, lost):
    checker = Checker()
    for event in history:
        if event == "delete":
            checker.delete_acknowledged("k")
        else:
            verb, value = event.split()
            (checker.put_acknowledged if verb == "ack" else checker.put_failed)("k", value)
    assert checker.final_read("k", observed, at_s=9.0) == (observed in checker.state("k").legal)
    assert (checker.wrong_reads, checker.lost_writes) == (wrong, lost)


# ------------------------------------------------------------------------------------ the workload's pure parts


def test_payloads_are_regenerable_and_sizes_stay_within_bounds():
    first = payload(7, "k-00001", 3, 10, 5000)
    assert payload(7, "k-00001", 3, 10, 5000) == first
    assert payload(7, "k-00001", 4, 10, 5000) != first and payload(8, "k-00001", 3, 10, 5000) != first
    sizes = {len(payload(1, "k", version, 10, 5000)) for version in range(200)}
    assert min(sizes) >= 10 and max(sizes) <= 5000 and len(sizes) > 100
    assert len(payload(1, "k", 1, 64, 64)) == 64


def test_workers_own_disjoint_keys_that_cover_the_key_space_and_policies_map_to_client_arguments():
    scenario = parse(BASE, source="t.toml")
    owned = [worker_keys(scenario.workload, index) for index in range(scenario.workload.workers)]
    assert sorted(key for keys in owned for key in keys) == [f"k-{index:05d}" for index in range(8)]
    assert not set(owned[0]) & set(owned[1])
    assert policy_arguments("replicas=3") == {"replicas": 3}
    assert policy_arguments("ec=4+2") == {"ec": (4, 2)}


# ------------------------------------------------------------------------------------ accounting


def metrics(down: dict[str, int], repair_bytes: int = 0, corrupt: int = 0) -> str:
    lines = ["# HELP ringstore_member_down_total Transitions to DOWN.",
             "# TYPE ringstore_member_down_total counter"]
    lines += [f'ringstore_member_down_total{{member="{member}"}} {count}.0' for member, count in down.items()]
    lines += [f'ringstore_repair_bytes_total{{policy="replication"}} {repair_bytes}.0',
              'ringstore_repair_bytes_total{policy="ec"} 0.0',
              f"ringstore_corrupt_shares_total {corrupt}.0"]
    return "\n".join(lines) + "\n"


def test_prometheus_samples_are_summed_by_label():
    text = metrics({"node-2": 3, "node-3": 1}, repair_bytes=500, corrupt=2)
    assert by_label(text, "ringstore_member_down_total", "member") == {"node-2": 3.0, "node-3": 1.0}
    assert total(text, "ringstore_repair_bytes_total") == 500.0
    assert total(text, "ringstore_corrupt_shares_total") == 2.0
    assert total(text, "ringstore_absent_total") == 0.0


def test_down_verdicts_about_a_killed_node_are_true_and_others_false():
    ledger = Ledger(grace_s=5.0)
    ledger.scrape("node-1", 1, metrics({}), 0.0, baseline=True)
    window = ledger.open_window("node-3", "kill", 10.0)
    ledger.scrape("node-1", 1, metrics({"node-3": 1}), 12.0)
    window.end_s = 20.0
    ledger.scrape("node-1", 1, metrics({"node-3": 2}), 24.0)  # within the grace after the restart
    ledger.scrape("node-1", 1, metrics({"node-3": 2}), 30.0)
    ledger.scrape("node-1", 1, metrics({"node-3": 3, "node-2": 1}), 40.0)  # neither excused
    assert (ledger.down_verdicts, ledger.false_down) == (4, 2)
    assert [(f.observer, f.member, f.count, f.from_s, f.to_s) for f in ledger.false_listed] == [
        ("node-1", "node-2", 1, 30.0, 40.0), ("node-1", "node-3", 1, 30.0, 40.0)]
    assert ledger.down_metric_served


def test_partition_windows_excuse_only_the_observers_across_the_cut():
    ledger = Ledger(grace_s=0.0)
    for observer in ("node-1", "node-2", "node-4"):
        ledger.scrape(observer, 1, metrics({}), 0.0, baseline=True)
    ledger.open_window("node-1", "partition", 5.0, observers=frozenset({"node-2"}))
    ledger.open_window("node-2", "partition", 5.0, observers=frozenset({"node-1"}))
    ledger.close_windows("node-1", ("partition",), 8.0)
    ledger.close_windows("node-2", ("partition",), 8.0)
    ledger.scrape("node-2", 1, metrics({"node-1": 1}), 10.0)
    ledger.scrape("node-1", 1, metrics({"node-2": 1}), 10.0)
    ledger.scrape("node-4", 1, metrics({"node-1": 1}), 10.0)  # not across the cut: false
    assert (ledger.down_verdicts, ledger.false_down) == (3, 1)
    assert ledger.false_listed[0].observer == "node-4"


def test_a_restarted_node_counts_from_zero_and_counter_bytes_add_up_across_generations():
    ledger = Ledger()
    ledger.scrape("node-1", 1, metrics({}, repair_bytes=1000, corrupt=1), 0.0, baseline=True)
    ledger.scrape("node-1", 1, metrics({}, repair_bytes=1500, corrupt=1), 5.0)
    ledger.scrape("node-1", 2, metrics({}, repair_bytes=300, corrupt=2), 9.0)  # restarted in between
    ledger.scrape("node-1", 2, metrics({}, repair_bytes=400, corrupt=2), 12.0)
    assert (ledger.bytes_moved, ledger.corrupt_found) == (500 + 300 + 100, 2)


def test_without_the_down_counter_false_verdicts_are_not_counted_and_the_run_cannot_pass():
    ledger = Ledger()
    ledger.scrape("node-1", 1, "ringstore_corrupt_shares_total 0.0\n", 0.0, baseline=True)
    assert not ledger.down_metric_served
    verdicts = {inv.name: inv.ok for inv in judge(passing_report(down_metric_served=False), Expect())}
    assert verdicts["false DOWN verdicts counted"] is False


# ------------------------------------------------------------------------------------ invariants


def passing_report(**changes) -> Report:
    report = Report(scenario="demo", description="d", form="short", seed=3, nodes=4, directory="/tmp/x",
                    reproduce="cluster-sim scenario run demo --seed 3", keys_checked=10, down_metric_served=True,
                    full_redundancy_s=4.0, ops={"get": OpCounts(done=10), "put": OpCounts(done=5)})
    return dataclasses.replace(report, **changes)


# The victim held 4096 bytes of still-current data in 6 copies/shares; it kept 3 metadata records after the cold set.
HELD = {"victim": "node-2", "cold_keys": 4, "victim_snapshot_taken": True, "victim_keys": 4, "victim_copies": 6,
        "victim_bytes": 4096, "victim_cold_bytes": 2048, "victim_metadata_min": 3}
REFILLED = {"victim_shares_after": 6, "victim_bytes_after": 4096, "victim_metadata_after": 3, "victim_missing_after": 0}


@pytest.mark.parametrize("changes,expect,failed", [
    ({}, Expect(), []),
    ({"lost_writes": 1}, Expect(), ["no acknowledged write lost"]),
    ({"wrong_reads": 2}, Expect(), ["no wrong read"]),
    ({"errors": ["steps[0] (kill node-2): boom"]}, Expect(), ["schedule and workload ran"]),
    ({"false_down": 1}, Expect(), ["false DOWN verdicts <= 0"]),
    ({"false_down": 1}, Expect(false_down_max=1), []),
    ({"full_redundancy_s": None}, Expect(), ["full redundancy within 120 s of the last fault"]),
    ({"full_redundancy_s": 61.0}, Expect(full_redundancy_s_max=60), ["full redundancy within 60 s of the last fault"]),
    ({"ops": {"get": OpCounts(done=9, failed=1)}}, Expect(failed_reads_max=0), ["failed reads <= 0"]),
    ({"ops": {"get": OpCounts(done=9, failed=1)}}, Expect(), []),
    ({"ops": {"overwrite": OpCounts(failed=1)}}, Expect(failed_puts_max=0), ["failed puts <= 0"]),
    ({"bytes_moved": 0}, Expect(bytes_moved_min=1), ["bytes moved >= 1"]),
    ({"bytes_moved": 101, "handoff_bytes": 100}, Expect(bytes_moved_within_handoff=True),
     ["no repair beyond the handoff return"]),
    ({"bytes_moved": 100, "handoff_bytes": 100}, Expect(bytes_moved_within_handoff=True), []),
    ({"corrupt_found": 0}, Expect(corrupt_found_min=1), ["corrupt copies found >= 1"]),
    ({**HELD, "bytes_moved": 4096}, Expect(bytes_moved_covers_victim=True), []),
    ({**HELD, "bytes_moved": 4095}, Expect(bytes_moved_covers_victim=True),
     ["repair moved at least what the victim held"]),
    ({**HELD, "victim_bytes": 0, "bytes_moved": 10}, Expect(bytes_moved_covers_victim=True),
     ["repair moved at least what the victim held"]),
    ({**HELD, "victim_snapshot_taken": False, "bytes_moved": 10**6}, Expect(bytes_moved_covers_victim=True),
     ["repair moved at least what the victim held"]),
    ({**HELD, **REFILLED}, Expect(victim_refilled=True), []),
    ({**HELD, **REFILLED, "victim_missing_after": 1}, Expect(victim_refilled=True), ["the victim is refilled"]),
    ({**HELD, **REFILLED, "victim_missing_after": None}, Expect(victim_refilled=True), ["the victim is refilled"]),
    ({**HELD, **REFILLED, "victim_copies": 0}, Expect(victim_refilled=True), ["the victim is refilled"]),
    ({**HELD, **REFILLED, "victim_metadata_after": 2}, Expect(victim_refilled=True), ["the victim is refilled"]),
    ({**HELD}, Expect(victim_refilled=True), ["the victim is refilled"]),  # it never answered
    ({"detections": [Detection("node-2", "kill", 3.0, 4, 0.5, None)]}, Expect(detection_s_max=5),
     ["every kill seen DOWN by all within 5 s"]),
    ({"detections": [Detection("node-2", "kill", 3.0, 4, 0.5, 0.9),
                     Detection("node-2", "stop", 9.0, 4, None, None)]}, Expect(detection_s_max=5), []),
])
def test_invariants_fail_exactly_when_their_figures_break_them(changes, expect, failed):
    report = passing_report(**changes)
    report.invariants = judge(report, expect)
    assert [inv.name for inv in report.invariants if not inv.ok] == failed
    assert report.ok == (not failed)
    assert len(report.failures()) == len(failed) and all("\n" not in line for line in report.failures())


def test_the_text_report_names_the_figures_and_how_to_reproduce():
    report = passing_report(detections=[Detection("node-3", "kill", 4.0, 4, 0.7, 0.8)], bytes_moved=1234,
                            ops={"get": OpCounts(done=3, failed=1, failed_by_code={"UNAVAILABLE": 1},
                                                 examples=["UNAVAILABLE: 2 of 3 replicas"])})
    report.invariants = judge(report, Expect())
    text = report.text()
    for fragment in ("acknowledged writes lost", "reads that returned wrong values", "false DOWN verdicts",
                     "time to full redundancy           4.0 s", "bytes moved by repair             1234",
                     "node-3 (kill)  4.0 s  4          0.70 s  0.80 s", "get: UNAVAILABLE: 2 of 3 replicas",
                     "reproduce with: cluster-sim scenario run demo --seed 3"):
        assert fragment in text, fragment
    document = report.to_dict()
    assert document["ok"] is True and document["seed"] == 3 and document["detections"][0]["all_s"] == 0.8
