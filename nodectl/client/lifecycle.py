"""Lifecycle calls of `Client`: a bucket's rules (set, read, remove) and the workers' status.

Rules travel as documents a user writes (`nodectl lifecycle set BUCKET FILE.json`):

    {"rules": [{"id": "logs", "prefix": "logs/", "enabled": true,
                "expiration": {"days": 30},                  # or {"date": "2027-01-01"}
                "noncurrent_expiration": {"days": 7, "newer_kept": 2},
                "expired_delete_markers": true,
                "abort_incomplete_uploads": {"days": 1},
                "transition": {"days": 90, "policy": "ec=6+3"}}]}

Every field but "id" and one action is optional ("enabled" defaults to true). An unknown field, a
wrong type, or a rule without an action is InvalidArgument naming the rule and the field: a typo
must never turn into a rule that silently does nothing. `rule_from_flags` reads the same rule from
`--rule id=logs,prefix=logs/,expire-days=30,...` flags.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from ringstore.v1 import admin_pb2, common_pb2, object_pb2

from nodectl.client.connection import _Connection
from nodectl.client.from_pb import bucket_info_from_pb, policy_text
from nodectl.client.results import BucketInfo, _Dict
from nodectl.client.validate import parse_ec, validate_bucket
from nodectl.errors import InvalidArgument

_RULE_FIELDS = {"id", "prefix", "tags", "enabled", "expiration", "noncurrent_expiration", "expired_delete_markers",
                "abort_incomplete_uploads", "transition"}
FLAG_NAMES = ("id", "prefix", "enabled", "expire-days", "expire-date", "noncurrent-days", "noncurrent-keep",
              "expired-markers", "abort-uploads-days", "transition-days", "transition-policy")


@dataclasses.dataclass(frozen=True)
class NodeLifecycleStatus(_Dict):
    """One node's lifecycle worker: totals since it started, and its last pass."""

    node_id: str
    objects_expired: int
    versions_removed: int
    markers_removed: int
    uploads_aborted: int
    objects_converted: int
    bytes_converted: int
    backlog: int
    buckets_owned: int
    passes_completed: int
    last_pass_finished_unix_ms: int
    errors: int


@dataclasses.dataclass(frozen=True)
class LifecycleStatus(_Dict):
    nodes: list[NodeLifecycleStatus]
    # ALIVE members that did not answer, "node-id: reason".
    unreachable: list[str]


def _check_fields(where: str, given: dict, allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InvalidArgument(f"{where}: unknown field {unknown[0]!r}; the fields are {', '.join(sorted(allowed))}")


def _days(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2 ** 32 - 1:
        raise InvalidArgument(f"{where} must be a whole number of days >= 1, got {value!r}")
    return value


def _date_ms(where: str, value: Any) -> int:
    if not isinstance(value, str):
        raise InvalidArgument(f"{where} must be a date as YYYY-MM-DD (UTC midnight), got {value!r}")
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{where} {value!r} is not a date as YYYY-MM-DD") from None
    moment = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def _policy(where: str, text: Any) -> common_pb2.RedundancyPolicy:
    if not isinstance(text, str):
        raise InvalidArgument(f"{where} must be replicas=N or ec=K+M, got {text!r}")
    if text.startswith("replicas="):
        count = text.removeprefix("replicas=")
        if not count.isdigit() or int(count) < 1:
            raise InvalidArgument(f"{where} {text!r}: replicas=N needs N >= 1")
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=int(count)))
    if text.startswith("ec="):
        k, m = parse_ec(text.removeprefix("ec="))
        return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=k, parity_shares=m))
    raise InvalidArgument(f"{where} {text!r} is not replicas=N or ec=K+M")


def rule_from_dict(document: Any, index: int) -> common_pb2.LifecycleRule:
    """A LifecycleRule from one entry of a document's "rules"; InvalidArgument naming what is wrong."""
    where = f"rule {index + 1}"
    if not isinstance(document, dict):
        raise InvalidArgument(f"{where} must be an object with an \"id\" and an action")
    if isinstance(document.get("id"), str):
        where = f"rule {document['id']!r}"
    _check_fields(where, document, _RULE_FIELDS)
    rule = common_pb2.LifecycleRule(id=document.get("id", ""), prefix=document.get("prefix", ""))
    if not isinstance(rule.id, str) or not isinstance(document.get("prefix", ""), str):
        raise InvalidArgument(f"{where}: \"id\" and \"prefix\" are strings")
    tags = document.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidArgument(f"{where}: \"tags\" is an object of tag names to values")
    rule.tags.update(tags)
    enabled = document.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidArgument(f"{where}: \"enabled\" is true or false")
    rule.enabled = enabled
    if "expiration" in document:
        expiration = document["expiration"]
        if not isinstance(expiration, dict):
            raise InvalidArgument(f"{where}: \"expiration\" is {{\"days\": N}} or {{\"date\": \"YYYY-MM-DD\"}}")
        _check_fields(f"{where} expiration", expiration, {"days", "date"})
        if "days" in expiration:
            rule.expiration_days = _days(f"{where} expiration days", expiration["days"])
        if "date" in expiration:
            rule.expiration_date_unix_ms = _date_ms(f"{where} expiration date", expiration["date"])
    if "noncurrent_expiration" in document:
        noncurrent = document["noncurrent_expiration"]
        if not isinstance(noncurrent, dict):
            raise InvalidArgument(f"{where}: \"noncurrent_expiration\" is {{\"days\": N, \"newer_kept\": K}}")
        _check_fields(f"{where} noncurrent_expiration", noncurrent, {"days", "newer_kept"})
        rule.noncurrent_days = _days(f"{where} noncurrent_expiration days", noncurrent.get("days"))
        kept = noncurrent.get("newer_kept", 0)
        if isinstance(kept, bool) or not isinstance(kept, int) or not 0 <= kept <= 100:
            raise InvalidArgument(f"{where} noncurrent_expiration newer_kept must be 0..100, got {kept!r}")
        rule.noncurrent_newer_kept = kept
    if "expired_delete_markers" in document:
        if not isinstance(document["expired_delete_markers"], bool):
            raise InvalidArgument(f"{where}: \"expired_delete_markers\" is true or false")
        rule.expired_delete_markers = document["expired_delete_markers"]
    if "abort_incomplete_uploads" in document:
        abort = document["abort_incomplete_uploads"]
        if not isinstance(abort, dict):
            raise InvalidArgument(f"{where}: \"abort_incomplete_uploads\" is {{\"days\": N}}")
        _check_fields(f"{where} abort_incomplete_uploads", abort, {"days"})
        rule.abort_uploads_days = _days(f"{where} abort_incomplete_uploads days", abort.get("days"))
    if "transition" in document:
        transition = document["transition"]
        if not isinstance(transition, dict):
            raise InvalidArgument(f"{where}: \"transition\" is {{\"days\": N, \"policy\": \"ec=K+M\"}}")
        _check_fields(f"{where} transition", transition, {"days", "policy"})
        rule.transition_days = _days(f"{where} transition days", transition.get("days"))
        rule.transition_policy.CopyFrom(_policy(f"{where} transition policy", transition.get("policy")))
    return rule


def rules_from_document(document: Any) -> list[common_pb2.LifecycleRule]:
    if not isinstance(document, dict):
        raise InvalidArgument("a lifecycle document is an object: {\"rules\": [...]}")
    _check_fields("lifecycle document", document, {"rules"})
    rules = document.get("rules")
    if not isinstance(rules, list):
        raise InvalidArgument("a lifecycle document has a \"rules\" list")
    return [rule_from_dict(rule, index) for index, rule in enumerate(rules)]


def rule_from_flags(text: str, index: int) -> common_pb2.LifecycleRule:
    """A rule from `--rule id=logs,prefix=logs/,expire-days=30,...` (FLAG_NAMES)."""
    fields: dict[str, str] = {}
    for part in filter(None, text.split(",")):
        name, sep, value = part.partition("=")
        if not sep or name not in FLAG_NAMES:
            raise InvalidArgument(f"--rule {text[:80]!r}: {part[:40]!r} is not NAME=VALUE with NAME one of "
                                  f"{', '.join(FLAG_NAMES)}")
        fields[name] = value

    def number(name: str) -> int:
        if not fields[name].isdigit():
            raise InvalidArgument(f"--rule {name} must be a whole number, got {fields[name]!r}")
        return int(fields[name])

    document: dict[str, Any] = {"id": fields.get("id", ""), "prefix": fields.get("prefix", ""),
                                "enabled": fields.get("enabled", "true").lower() != "false"}
    if "expire-days" in fields or "expire-date" in fields:
        document["expiration"] = ({"days": number("expire-days")} if "expire-days" in fields else {}) | (
            {"date": fields["expire-date"]} if "expire-date" in fields else {})
    if "noncurrent-days" in fields:
        document["noncurrent_expiration"] = {"days": number("noncurrent-days"),
                                             "newer_kept": number("noncurrent-keep") if "noncurrent-keep" in fields else 0}
    if "expired-markers" in fields:
        document["expired_delete_markers"] = fields["expired-markers"].lower() == "true"
    if "abort-uploads-days" in fields:
        document["abort_incomplete_uploads"] = {"days": number("abort-uploads-days")}
    if "transition-days" in fields or "transition-policy" in fields:
        document["transition"] = {"days": number("transition-days") if "transition-days" in fields else 0,
                                  "policy": fields.get("transition-policy", "")}
    return rule_from_dict(document, index)


def rule_to_dict(rule: common_pb2.LifecycleRule) -> dict[str, Any]:
    """The document form of a rule (what `rule_from_dict` reads back)."""
    out: dict[str, Any] = {"id": rule.id, "prefix": rule.prefix, "enabled": rule.enabled}
    if rule.tags:
        out["tags"] = dict(sorted(rule.tags.items()))
    if rule.expiration_days:
        out["expiration"] = {"days": rule.expiration_days}
    elif rule.expiration_date_unix_ms:
        moment = datetime.datetime.fromtimestamp(rule.expiration_date_unix_ms / 1000, datetime.timezone.utc)
        out["expiration"] = {"date": moment.date().isoformat()}
    if rule.noncurrent_days:
        out["noncurrent_expiration"] = {"days": rule.noncurrent_days, "newer_kept": rule.noncurrent_newer_kept}
    if rule.expired_delete_markers:
        out["expired_delete_markers"] = True
    if rule.abort_uploads_days:
        out["abort_incomplete_uploads"] = {"days": rule.abort_uploads_days}
    if rule.transition_days:
        out["transition"] = {"days": rule.transition_days, "policy": policy_text(rule.transition_policy)}
    return out


class _LifecycleCalls(_Connection):
    """A bucket's lifecycle rules, and what the lifecycle workers did."""

    def set_lifecycle(self, bucket: str, rules: list[common_pb2.LifecycleRule]) -> BucketInfo:
        """Replace the bucket's rules (an empty list removes them); InvalidArgument for a bad rule."""
        validate_bucket(bucket)
        request = object_pb2.SetBucketLifecycleRequest(bucket=bucket, rules=rules)
        return bucket_info_from_pb(self._unary(self._objects.SetBucketLifecycle, request).bucket)

    def lifecycle(self, bucket: str) -> list[common_pb2.LifecycleRule]:
        """The bucket's rules."""
        validate_bucket(bucket)
        response = self._unary(self._objects.GetBucketInfo, object_pb2.GetBucketInfoRequest(bucket=bucket))
        return list(response.bucket.lifecycle)

    def lifecycle_status(self, *, this_node_only: bool = False) -> LifecycleStatus:
        response = self._unary(self._admin.GetLifecycleStatus,
                               admin_pb2.GetLifecycleStatusRequest(this_node_only=this_node_only))
        nodes = [NodeLifecycleStatus(
            node_id=n.node_id, objects_expired=n.objects_expired, versions_removed=n.versions_removed,
            markers_removed=n.markers_removed, uploads_aborted=n.uploads_aborted,
            objects_converted=n.objects_converted, bytes_converted=n.bytes_converted, backlog=n.backlog,
            buckets_owned=n.buckets_owned, passes_completed=n.passes_completed,
            last_pass_finished_unix_ms=n.last_pass_finished_unix_ms, errors=n.errors) for n in response.nodes]
        return LifecycleStatus(nodes=nodes, unreachable=list(response.unreachable))
