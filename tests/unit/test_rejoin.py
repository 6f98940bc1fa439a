"""Rejoining at start (node/rejoin.py): join candidates, when a node may run alone, and the recorder
that keeps the members file in step with the membership table (under a manual clock)."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys

import pytest

from node import rejoin
from node.config import GossipConfig
from node.daemon import EXIT_CONFIG
from node.gossip import JoinUnanswered, ManualClock, MemberInfo, MemberState, Membership
from node.store import MembersSnapshot, RememberedMember, read_members_file, write_members_file

INTERVAL_S = 10.0


def remembered(node_id: str, state: str = "ALIVE", address: str = "") -> RememberedMember:
    return RememberedMember(node_id=node_id, address=address or f"{node_id}.test:7401", state=state,
                            generation=100, incarnation=0)


def snapshot(*members: RememberedMember) -> MembersSnapshot:
    return MembersSnapshot(node_id="node-1", generation=50, saved_at_unix_ms=60, members=members)


def unanswered(last: str = "node-2.test:7401: connection refused") -> JoinUnanswered:
    return JoinUnanswered("a,b", 30.0, last)


# ---- candidates --------------------------------------------------------------------------------

def test_candidates_are_join_addresses_then_remembered_members_likeliest_first_never_myself():
    plan = rejoin.plan_join(
        ["seed.test:7401", "node-1.test:7401", "seed.test:7401", "node-3.test:7401"],
        snapshot(remembered("node-5", "OUT"), remembered("node-4", "LEFT"), remembered("node-3", "DOWN"),
                 remembered("node-2", "ALIVE"), remembered("node-6", "SUSPECT"), remembered("node-7", "ALIVE"),
                 remembered("node-8", "ALIVE", address="node-1.test:7401")),   # now at my address
        node_id="node-1", address="node-1.test:7401")
    assert plan.given == ("seed.test:7401", "node-3.test:7401")
    assert [m.node_id for m in plan.remembered] == ["node-2", "node-7", "node-6", "node-3", "node-4", "node-5"]
    assert plan.addresses == ["seed.test:7401", "node-3.test:7401", "node-2.test:7401", "node-7.test:7401",
                              "node-6.test:7401", "node-4.test:7401", "node-5.test:7401"]


def test_nothing_given_and_nothing_remembered_is_a_new_cluster():
    """The first node of a new cluster (no members file, no --join, or --join naming only itself)
    has no candidate at all: it starts alone at once, as before."""
    for join, remembered_file in (([], None), (["node-1.test:7401"], None), ([], snapshot())):
        plan = rejoin.plan_join(join, remembered_file, node_id="node-1", address="node-1.test:7401")
        assert plan.addresses == [] and not plan.must_rejoin


@pytest.mark.parametrize("states, must", [(("LEFT",), False), (("LEFT", "LEFT"), False), (("LEFT", "OUT"), True),
                                          (("DOWN",), True), (("ALIVE", "LEFT"), True), (("SUSPECT",), True)])
def test_only_members_that_all_left_let_a_node_run_alone(states, must):
    plan = rejoin.plan_join([], snapshot(*(remembered(f"node-{i + 2}", s) for i, s in enumerate(states))),
                            node_id="node-1", address="node-1.test:7401")
    assert plan.must_rejoin is must


def test_unreached_are_remembered_members_the_joined_table_does_not_hold_live():
    plan = rejoin.plan_join([], snapshot(remembered("node-2"), remembered("node-3"), remembered("node-4", "LEFT")),
                            node_id="node-1", address="node-1.test:7401")
    table = [member("node-1"), member("node-2"), member("node-3", state=MemberState.LEFT)]
    assert plan.unreached(table) == ["node-3.test:7401", "node-4.test:7401"]


# ---- when nobody answers -----------------------------------------------------------------------

def test_a_former_member_refuses_to_run_alone_in_one_line_naming_what_it_tried():
    plan = rejoin.plan_join(["seed.test:7401"], snapshot(remembered("node-2"), remembered("node-3", "LEFT")),
                            node_id="node-1", address="node-1.test:7401")
    with pytest.raises(rejoin.RefusedToRunAlone) as raised:
        rejoin.after_no_answer(plan, unanswered(), allow_alone=False, deadline_s=30.0,
                               members_path="/d/members.json")
    assert str(raised.value) == (
        "this node was a member of a cluster, and none of the 2 members it remembers nor --join seed.test:7401 "
        "answered within 30 s (node-2 at node-2.test:7401 ALIVE, node-3 at node-3.test:7401 LEFT; last: "
        "node-2.test:7401: connection refused); it will not run as a cluster of one: start one of them first, or "
        "give --join ADDR of a live member, or pass --allow-alone to start a cluster of one from this data dir on "
        "purpose (/d/members.json lists the members it remembers)")


def test_the_refusal_names_five_members_and_counts_the_rest():
    plan = rejoin.plan_join([], snapshot(*(remembered(f"node-{i}", "DOWN") for i in range(2, 10))),
                            node_id="node-1", address="node-1.test:7401")
    with pytest.raises(rejoin.RefusedToRunAlone) as raised:
        rejoin.after_no_answer(plan, unanswered(), allow_alone=False, deadline_s=30.0, members_path="/m")
    assert "node-6 at node-6.test:7401 DOWN and 3 more; last:" in str(raised.value)
    assert "node-7" not in str(raised.value) and "\n" not in str(raised.value)


def test_allow_alone_runs_alone_even_after_being_a_member():
    plan = rejoin.plan_join([], snapshot(remembered("node-2")), node_id="node-1", address="node-1.test:7401")
    warning = rejoin.after_no_answer(plan, unanswered(), allow_alone=True, deadline_s=3.0, members_path="/m")
    assert warning == ("no join candidate answered within 3 s (last: node-2.test:7401: connection refused); "
                       "running as a cluster of one (--allow-alone): /m will list only the members that join it")


def test_the_last_member_to_stop_runs_alone_and_a_bad_join_address_is_exit_4_as_before():
    last = rejoin.plan_join([], snapshot(remembered("node-2", "LEFT"), remembered("node-3", "LEFT")),
                            node_id="node-1", address="node-1.test:7401")
    warning = rejoin.after_no_answer(last, unanswered(), allow_alone=False, deadline_s=30.0, members_path="/m")
    assert warning.startswith("every member this node remembers had LEFT (node-2 at node-2.test:7401 LEFT, "
                              "node-3 at node-3.test:7401 LEFT) and none answered within 30 s: running as a "
                              "cluster of one, as the last member to stop")
    for remembered_file in (None, snapshot(remembered("node-2", "LEFT"))):
        given = rejoin.plan_join(["seed.test:7401"], remembered_file, node_id="node-1", address="node-1.test:7401")
        error = unanswered()
        with pytest.raises(JoinUnanswered) as raised:
            rejoin.after_no_answer(given, error, allow_alone=False, deadline_s=30.0, members_path="/m")
        assert raised.value is error


# ---- the recorder ------------------------------------------------------------------------------

GIB = 1024**3


def member(node_id: str, *, state: MemberState = MemberState.ALIVE, generation: int = 100, incarnation: int = 0,
           address: str = "", **kw) -> MemberInfo:
    return MemberInfo(node_id=node_id, address=address or f"{node_id}.test:7401", zone="", capacity_bytes=GIB,
                      generation=generation, incarnation=incarnation, state=state, **kw)


class Recording:
    """A Membership for node-1 under a manual clock, its recorder, and the file it writes."""

    def __init__(self, tmp_path, *, remembered_members=(), interval_s: float = INTERVAL_S) -> None:
        self.clock = ManualClock()
        self.path = str(tmp_path / "members.json")
        self.membership = Membership(config=GossipConfig(), me=member("node-1", generation=500), clock=self.clock,
                                     rng=random.Random(1))
        self.recorder = rejoin.MembersRecorder(path=self.path, node_id="node-1", generation=500,
                                               members=self.membership.members, wall_ms=lambda: 1234,
                                               interval_s=interval_s, remembered=remembered_members)
        self.membership.add_listener(self.recorder.on_change)

    def now(self) -> float:
        return self.clock.monotonic_s()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def states(self) -> dict[str, str]:
        saved = read_members_file(self.path, owner="node-1")
        return {m.node_id: m.state for m in saved.members}

    def mtime_ns(self) -> int:
        return os.stat(self.path).st_mtime_ns


def test_nothing_is_written_before_start_so_a_refused_start_keeps_the_file(tmp_path):
    rec = Recording(tmp_path)
    write_members_file(rec.path, snapshot(remembered("node-9")))
    before = open(rec.path).read()
    rec.membership.on_gossip([member("node-2")])
    rec.advance(INTERVAL_S * 3)
    rec.recorder.step(rec.now())
    rec.recorder.flush(rec.now())
    assert open(rec.path).read() == before
    assert rec.recorder.writes_total == 0


def test_changes_are_written_at_most_once_per_interval(tmp_path):
    """start() writes at once; a new member, a state change or an address change marks the file
    stale, and step() writes it only once the interval since the last write has passed."""
    rec = Recording(tmp_path)
    rec.membership.on_gossip([member("node-2")])
    rec.recorder.start(rec.now())
    assert rec.states() == {"node-2": "ALIVE"} and rec.recorder.writes_total == 1
    rec.advance(1.0)
    rec.membership.on_gossip([member("node-3")])
    assert rec.recorder.step(rec.now()) == pytest.approx(INTERVAL_S - 1.0)
    assert rec.states() == {"node-2": "ALIVE"}
    rec.advance(INTERVAL_S - 1.0)
    rec.membership.on_gossip([member("node-2", state=MemberState.DOWN)])
    rec.recorder.step(rec.now())
    assert rec.states() == {"node-2": "DOWN", "node-3": "ALIVE"} and rec.recorder.writes_total == 2
    rec.advance(INTERVAL_S * 2.5)
    assert not rec.recorder.changed.is_set()
    rec.membership.on_gossip([member("node-3", incarnation=1, address="node-3.moved:7401")])
    assert rec.recorder.changed.is_set()   # wakes the daemon's loop: after a quiet spell, written at once
    assert rec.recorder.step(rec.now()) == INTERVAL_S
    assert rec.recorder.writes_total == 3 and not rec.recorder.changed.is_set()
    saved = read_members_file(rec.path, owner="node-1")
    assert [m.address for m in saved.members] == ["node-2.test:7401", "node-3.moved:7401"]
    assert saved.generation == 500 and saved.saved_at_unix_ms == 1234


def test_heartbeat_sized_changes_write_nothing(tmp_path):
    """An incarnation bump that carries free bytes, my own record's changes, and a state that flaps
    back before the next write do not cost a write."""
    rec = Recording(tmp_path)
    rec.membership.on_gossip([member("node-2")])
    rec.recorder.start(rec.now())
    for i in range(1, 20):
        rec.advance(INTERVAL_S)
        rec.membership.on_gossip([member("node-2", incarnation=i, free_bytes=i * GIB)])
        rec.membership.update_me(free_bytes=i)
        rec.recorder.step(rec.now())
    rec.membership.on_gossip([member("node-2", incarnation=50, state=MemberState.SUSPECT, suspected_by="node-3")])
    rec.membership.on_gossip([member("node-2", incarnation=51)])
    rec.advance(INTERVAL_S)
    rec.recorder.step(rec.now())
    assert rec.recorder.writes_total == 1


def test_remembered_members_are_kept_until_the_table_has_them(tmp_path):
    """A node that joined through one member and dies a moment later must still remember the others:
    remembered members the table has not heard of are written as they were read, and replaced by the
    table's record once it has one."""
    rec = Recording(tmp_path, remembered_members=(remembered("node-2"), remembered("node-3", "LEFT")))
    rec.membership.on_gossip([member("node-4")])
    rec.recorder.start(rec.now())
    assert rec.states() == {"node-2": "ALIVE", "node-3": "LEFT", "node-4": "ALIVE"}
    rec.advance(INTERVAL_S)
    rec.membership.on_gossip([member("node-3", generation=900)])
    rec.recorder.step(rec.now())
    saved = {m.node_id: m for m in read_members_file(rec.path, owner="node-1").members}
    assert saved["node-3"].state == "ALIVE" and saved["node-3"].generation == 900
    assert saved["node-2"] == remembered("node-2")


def test_a_member_whose_address_no_join_could_dial_is_left_out_not_fatal(tmp_path, caplog):
    rec = Recording(tmp_path)
    rec.membership.on_gossip([member("node-2"), member("node-3", address="no-port-here")])
    with caplog.at_level(logging.WARNING, logger="ringstore.rejoin"):
        rec.recorder.start(rec.now())
    assert rec.states() == {"node-2": "ALIVE"}
    assert "not remembering node-3: member node-3: address 'no-port-here' is not HOST:PORT" in caplog.text


def test_allow_alone_forgets_the_members_it_could_not_reach(tmp_path):
    rec = Recording(tmp_path, remembered_members=(remembered("node-2"), remembered("node-3")))
    rec.recorder.forget_unreached()
    rec.recorder.start(rec.now())
    assert rec.states() == {}
    rec.advance(INTERVAL_S)
    rec.membership.on_join(member("node-5"))
    rec.recorder.step(rec.now())
    assert rec.states() == {"node-5": "ALIVE"}


def test_a_failed_write_is_logged_and_tried_again_an_interval_later(tmp_path, caplog, monkeypatch):
    rec = Recording(tmp_path)
    rec.membership.on_gossip([member("node-2")])
    rec.recorder.start(rec.now())

    def refused(path, snapshot):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(rejoin, "write_members_file", refused)
        rec.advance(INTERVAL_S)
        rec.membership.on_gossip([member("node-3")])
        with caplog.at_level(logging.ERROR, logger="ringstore.rejoin"):
            rec.recorder.step(rec.now())
        assert rec.recorder.write_failures_total == 1
        assert f"cannot write {rec.path} ([Errno 13] Permission denied)" in caplog.text
        rec.advance(INTERVAL_S / 2)
        rec.recorder.step(rec.now())
        assert rec.recorder.write_failures_total == 1   # not retried within the interval
    assert rec.states() == {"node-2": "ALIVE"}
    rec.advance(INTERVAL_S / 2)
    rec.recorder.step(rec.now())
    assert rec.states() == {"node-2": "ALIVE", "node-3": "ALIVE"}


def test_flush_writes_what_changed_since_the_last_write_whatever_the_interval(tmp_path):
    rec = Recording(tmp_path)
    rec.recorder.start(rec.now())
    rec.membership.on_gossip([member("node-2")])
    rec.recorder.step(rec.now())
    assert rec.states() == {}
    rec.recorder.flush(rec.now())
    assert rec.states() == {"node-2": "ALIVE"}
    document = json.loads(open(rec.path).read())
    assert document["members"][0]["node_id"] == "node-2" and "node-1" not in json.dumps(document["members"])


# ---- noded's start -----------------------------------------------------------------------------

@pytest.mark.parametrize("content, fault", [
    ('{"format_version": 1, "node_id": "node-1", "gen', "does not parse as JSON"),
    ('{"format_version": 9, "node_id": "node-1", "generation": 1, "saved_at_unix_ms": 1, "members": []}',
     "has format_version 9; this release reads only format_version 1"),
    ('{"format_version": 1, "node_id": "node-7", "generation": 1, "saved_at_unix_ms": 1, "members": []}',
     "belongs to node 'node-7', not 'node-1'"),
])
def test_noded_refuses_a_members_file_it_cannot_trust_in_one_line_and_exit_2(tmp_path, content, fault):
    """Skipping a damaged members file would start the node alone, which is what the file is there to
    prevent: noded stops with exit 2, naming the file, what is wrong and what to do."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    secret.chmod(0o600)
    data_dir = tmp_path / "d"
    data_dir.mkdir(mode=0o700)
    members = data_dir / "members.json"
    members.write_text(content)
    done = subprocess.run([sys.executable, "-m", "node", "--data-dir", str(data_dir), "--node-id", "node-1",
                           "--cluster-secret-file", str(secret), "--listen", "127.0.0.1:0", "--peer-listen",
                           "127.0.0.1:0", "--insecure"], capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_CONFIG
    [line] = [x for x in done.stderr.splitlines() if x.startswith("noded: error:")]
    assert line.startswith(f"noded: error: {members}")
    assert fault in line
    assert line.endswith("; it lists the members this node rejoins its cluster through: fix it, or move it away "
                         "and start with --join ADDR of a live member")
    assert members.read_text() == content
