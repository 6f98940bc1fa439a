"""Unit tests of lifecycle rules (node/objects/lifecycle.py) and their document form
(nodectl/client/lifecycle.py): what is due for a key, and every bad rule refused in one line."""

from __future__ import annotations

import pytest

from ringstore.v1 import common_pb2

from node import errors
from node.objects.lifecycle import EXPIRE, REMOVE_MARKER, REMOVE_VERSION, TRANSITION, check_rules, due
from nodectl.client import rule_from_flags, rule_to_dict, rules_from_document
from nodectl.errors import InvalidArgument

DAY_MS = 1000
EC = common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=2, parity_shares=1))
R3 = common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))


def _version(ms: int, *, key: str = "logs/a", tombstone: bool = False, vid: bytes = b"",
             expires_ms: int = 0) -> common_pb2.Manifest:
    return common_pb2.Manifest(key=key, created_at_unix_ms=ms, tombstone=tombstone, version_id=vid, policy=R3,
                               version=common_pb2.VersionStamp(physical_ms=ms, node_id="n"),
                               expires_at_unix_ms=expires_ms, chunks=[common_pb2.ChunkRef(size_bytes=1)])


def _rule(**fields) -> common_pb2.LifecycleRule:
    return common_pb2.LifecycleRule(id=fields.pop("id", "r"), enabled=fields.pop("enabled", True), **fields)


def test_expiration_by_days_date_and_ttl_only_under_the_prefix():
    rules = [_rule(prefix="logs/", expiration_days=3)]
    assert due(rules, [_version(0)], 2999, DAY_MS) == []
    assert [a.kind for a in due(rules, [_version(0)], 3000, DAY_MS)] == [EXPIRE]
    assert due(rules, [_version(0, key="keep/a")], 10_000, DAY_MS) == []
    assert due([_rule(prefix="logs/", expiration_days=3, enabled=False)], [_version(0)], 10_000, DAY_MS) == []
    dated = [_rule(expiration_date_unix_ms=5000)]
    assert due(dated, [_version(0)], 4999, DAY_MS) == [] and due(dated, [_version(0)], 5000, DAY_MS)
    ttl = due([], [_version(0, key="any", expires_ms=700)], 700, DAY_MS)
    assert [(a.kind, a.why) for a in ttl] == [(EXPIRE, "ttl")]


def test_noncurrent_versions_count_from_when_they_were_replaced_and_the_newest_k_stay():
    rules = [_rule(noncurrent_days=2, noncurrent_newer_kept=1)]
    versions = [_version(10_000, vid=b"4"), _version(5_000, vid=b"3"), _version(4_000, vid=b"2"), _version(0, vid=b"1")]
    # v3 was replaced at 10000, v2 at 5000, v1 at 4000; v3 is the newest noncurrent one, kept.
    assert [a.manifest.version_id for a in due(rules, versions, 6_999, DAY_MS)] == [b"1"]
    assert [a.manifest.version_id for a in due(rules, versions, 7_000, DAY_MS)] == [b"2", b"1"]
    assert [a.kind for a in due(rules, versions, 50_000, DAY_MS)] == [REMOVE_VERSION] * 2


def test_delete_markers_with_nothing_behind_and_transitions():
    marker = _version(0, tombstone=True, vid=b"m")
    rules = [_rule(expired_delete_markers=True)]
    assert [a.kind for a in due(rules, [marker], 0, DAY_MS)] == [REMOVE_MARKER]
    assert [a.kind for a in due(rules, [marker, _version(0, vid=b"v")], 0, DAY_MS)] == []
    move = [_rule(transition_days=5, transition_policy=EC)]
    assert due(move, [_version(0)], 4999, DAY_MS) == []
    assert [(a.kind, a.policy) for a in due(move, [_version(0)], 5000, DAY_MS)] == [(TRANSITION, EC)]
    done = _version(0)
    done.policy.CopyFrom(EC)
    assert due(move, [done], 9000, DAY_MS) == []  # already there
    both = [_rule(transition_days=1, transition_policy=EC, expiration_days=2)]
    assert [a.kind for a in due(both, [_version(0)], 3000, DAY_MS)] == [EXPIRE]  # expiring wins


def test_a_transition_counts_days_without_a_read_or_a_write():
    move = [_rule(transition_days=5, transition_policy=EC)]
    read = _version(0)
    read.read_at_unix_ms = 3000  # read on day 3: five days from then
    assert due(move, [read], 7999, DAY_MS) == []
    assert [a.kind for a in due(move, [read], 8000, DAY_MS)] == [TRANSITION]
    expiring = [_rule(expiration_days=5)]
    assert [a.kind for a in due(expiring, [read], 5000, DAY_MS)] == [EXPIRE]  # expiry counts from the write


@pytest.mark.parametrize("rule, message", [
    (_rule(id="", expiration_days=1), "needs an id"),
    (_rule(prefix="x"), "has no action"),
    (_rule(expiration_days=1, expiration_date_unix_ms=5), "by days and by date"),
    (_rule(noncurrent_newer_kept=2), "keeps 2 newer versions"),
    (_rule(transition_days=3), "needs both its days and the policy"),
    (_rule(transition_days=3, transition_policy=common_pb2.RedundancyPolicy(
        erasure_coding=common_pb2.ErasureCoding(data_shares=6, parity_shares=3))), "cannot be held"),
])
def test_bad_rules_are_refused_in_one_line(rule, message):
    def check_policy(policy):
        if policy.WhichOneof("policy") == "erasure_coding" and policy.erasure_coding.data_shares > 4:
            raise errors.InvalidArgument("ec=6+3 puts its 9 shares on 9 distinct nodes, but the cluster has 4 nodes")
    with pytest.raises(errors.InvalidArgument, match=message):
        check_rules([rule], check_policy, 1024)
    with pytest.raises(errors.InvalidArgument, match="given twice"):
        check_rules([_rule(expiration_days=1), _rule(expiration_days=2)], check_policy, 1024)


def test_documents_and_flags_round_trip_and_refuse_unknown_fields():
    document = {"rules": [{"id": "logs", "prefix": "logs/", "expiration": {"days": 30},
                           "noncurrent_expiration": {"days": 7, "newer_kept": 2}, "expired_delete_markers": True,
                           "abort_incomplete_uploads": {"days": 1}, "transition": {"days": 90, "policy": "ec=4+2"}}]}
    rules = rules_from_document(document)
    assert rules[0].enabled and rules[0].transition_policy.erasure_coding.data_shares == 4
    assert {"rules": [rule_to_dict(r) for r in rules]} == {"rules": [dict(document["rules"][0], enabled=True)]}
    flagged = rule_from_flags("id=logs,prefix=logs/,expire-days=30,noncurrent-days=7,noncurrent-keep=2,"
                              "expired-markers=true,abort-uploads-days=1,transition-days=90,transition-policy=ec=4+2", 0)
    assert flagged == rules[0]
    dated = rules_from_document({"rules": [{"id": "d", "expiration": {"date": "2027-01-01"}}]})[0]
    assert rule_to_dict(dated)["expiration"] == {"date": "2027-01-01"}
    for bad, message in (({"rules": [{"id": "x", "expiraton": {"days": 1}}]}, "unknown field 'expiraton'"),
                         ({"rules": [{"id": "x", "expiration": {"days": 0}}]}, "whole number of days"),
                         ({"rules": [{"id": "x", "expiration": {"date": "soon"}}]}, "not a date"),
                         ({"rules": [{"id": "x", "transition": {"days": 1, "policy": "cold"}}]}, "replicas=N or ec"),
                         ({"rule": []}, "unknown field 'rule'"), ([], "is an object")):
        with pytest.raises(InvalidArgument, match=message):
            rules_from_document(bad)
    with pytest.raises(InvalidArgument, match="is not NAME=VALUE"):
        rule_from_flags("id=x,ttl=3", 0)
