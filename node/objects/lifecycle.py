"""Lifecycle rules: checking a bucket's rules, and deciding what is due for one key.

A bucket's rules live in its record (BucketRecord.lifecycle), changed through the bucket register
like its versioning. Each rule names keys by prefix and says what happens as they age, in lifecycle
days (`repair.lifecycle_day_s` seconds: 86400 in production; tests shorten it):

- expiration: the current version is deleted N days after it was written, or once a date passed (a
  tombstone in an unversioned bucket, a delete marker in a versioned one);
- noncurrent expiration: a version behind the current one is deleted for good N days after a newer
  one replaced it, the newest K of them kept whatever their age;
- expired delete markers: a delete marker with nothing behind it is deleted for good;
- abort incomplete uploads N days after they began;
- transition: the current version is rewritten under a colder redundancy policy (replicas=3 to
  ec=6+3, say) once it has gone N days without a read or a write, by `convert`'s verified,
  crash-safe path.

Reads are known from read marks: in a bucket with a transition rule, a get of a version whose mark
(Manifest.read_at_unix_ms) is older than a lifecycle day / READ_MARKS_PER_DAY writes the version's
manifest again with the mark set to now, off the read's path (Coordinator.mark_read), and the homes
keep the latest mark (node/store/versions.py `merged`). So an object read all day costs at most
READ_MARKS_PER_DAY manifest writes a day, a transition can come at most that fraction of a day early,
and a bucket without a transition rule pays nothing. HEAD and stat are not reads (S3's access tiers
count only reads of the bytes); a conversion's own reads do not mark.

An object put with `--expires-in` carries its own moment (Manifest.expires_at_unix_ms): reads stop
finding it then, and the lifecycle worker deletes it like an expired one.

`due` is the pure decision for one key, from the manifests its home holds (node/repair/lifecycle.py
acts on it, each action re-checked against the key's homes by quorum first). A rule may also name
tags: it then covers only versions carrying every one of them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from node import errors
from node.objects import validate
from ringstore.v1 import common_pb2

# How often, at most, a get marks its version read: this many times per lifecycle day.
READ_MARKS_PER_DAY = 8
# S3's limits.
LIFECYCLE_RULES_MAX = 1000
RULE_ID_CHARS_MAX = 255
# Expire, remove a version for good, remove a delete marker, convert.
EXPIRE, REMOVE_VERSION, REMOVE_MARKER, TRANSITION = "expire", "remove-version", "remove-marker", "transition"


def check_rules(rules: Sequence[common_pb2.LifecycleRule], check_policy: Callable[[common_pb2.RedundancyPolicy], None],
                key_length_bytes_max: int) -> None:
    """INVALID_ARGUMENT naming the first rule that is wrong: a missing or repeated id, no action, two
    expirations, a transition without a policy (or one the cluster cannot hold: `check_policy`
    raises), NewerNoncurrentVersions without NoncurrentDays."""
    if len(rules) > LIFECYCLE_RULES_MAX:
        raise errors.InvalidArgument(f"{len(rules)} lifecycle rules; a bucket takes at most {LIFECYCLE_RULES_MAX}")
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        name = f"lifecycle rule {rule.id!r}" if rule.id else f"lifecycle rule {index + 1}"
        if not rule.id or len(rule.id) > RULE_ID_CHARS_MAX:
            raise errors.InvalidArgument(f"{name} needs an id of 1..{RULE_ID_CHARS_MAX} characters")
        if rule.id in seen:
            raise errors.InvalidArgument(f"{name} is given twice; rule ids are unique within a bucket")
        seen.add(rule.id)
        validate.prefix(rule.prefix, key_length_bytes_max)
        if rule.noncurrent_newer_kept and not rule.noncurrent_days:
            raise errors.InvalidArgument(f"{name} keeps {rule.noncurrent_newer_kept} newer versions but gives no "
                                         "noncurrent days after which the others go")
        actions = (rule.expiration_days or rule.expiration_date_unix_ms or rule.noncurrent_days
                   or rule.abort_uploads_days or rule.transition_days or rule.expired_delete_markers)
        if not actions:
            raise errors.InvalidArgument(f"{name} has no action: give an expiration, a noncurrent expiration, "
                                         "expired delete markers, an abort of uploads or a transition")
        if rule.expiration_days and rule.expiration_date_unix_ms:
            raise errors.InvalidArgument(f"{name} expires by days and by date; give one")
        if rule.expiration_date_unix_ms < 0:
            raise errors.InvalidArgument(f"{name} has a negative expiration date")
        has_policy = rule.HasField("transition_policy") and rule.transition_policy.WhichOneof("policy") is not None
        if bool(rule.transition_days) != has_policy:
            raise errors.InvalidArgument(f"{name}: a transition needs both its days and the policy to convert to "
                                         "(replicas=N or ec=K+M)")
        if has_policy:
            try:
                check_policy(rule.transition_policy)
            except errors.RingstoreError as err:
                raise errors.InvalidArgument(f"{name}: its transition policy cannot be held: {err}") from None


def _applies(rule: common_pb2.LifecycleRule, version: common_pb2.Manifest) -> bool:
    """Whether the rule covers the version: enabled, its key under the prefix, every tag it names."""
    tags = version.tagging.tags
    return rule.enabled and version.key.startswith(rule.prefix) and all(
        tags.get(name) == value for name, value in rule.tags.items())


@dataclasses.dataclass(frozen=True)
class Action:
    """Something due for one version of a key."""

    kind: str  # EXPIRE, REMOVE_VERSION, REMOVE_MARKER or TRANSITION
    manifest: common_pb2.Manifest  # the version it is about, as the home holds it
    why: str  # the rule id, or "ttl"
    policy: common_pb2.RedundancyPolicy | None = None  # TRANSITION's target


def unused_ms(manifest: common_pb2.Manifest, now_ms: int) -> int:
    """How long the version has gone without a read or a write."""
    return now_ms - max(manifest.created_at_unix_ms, manifest.read_at_unix_ms)


def has_transition(record: common_pb2.BucketRecord) -> bool:
    """Whether the bucket has a transition rule, so its gets mark their versions read."""
    return any(rule.enabled and rule.transition_days for rule in record.lifecycle)


def ttl_expired(manifest: common_pb2.Manifest, now_ms: int) -> bool:
    """True when the version carries an expiry (put --expires-in) that has passed."""
    return bool(manifest.expires_at_unix_ms) and now_ms >= manifest.expires_at_unix_ms


def due(rules: Sequence[common_pb2.LifecycleRule], versions: Sequence[common_pb2.Manifest], now_ms: int,
        day_ms: int) -> list[Action]:
    """What is due for one key, given its manifests newest first (erased records left out; the first
    is the current version, possibly a delete marker)."""
    if not versions:
        return []
    current = versions[0]
    actions: list[Action] = []
    if not current.tombstone:
        if ttl_expired(current, now_ms):
            actions.append(Action(EXPIRE, current, "ttl"))
        for rule in rules:
            if actions or not _applies(rule, current):
                continue
            age_ms = now_ms - current.created_at_unix_ms
            if (rule.expiration_days and age_ms >= rule.expiration_days * day_ms) or (
                    rule.expiration_date_unix_ms and now_ms >= rule.expiration_date_unix_ms):
                actions.append(Action(EXPIRE, current, rule.id))
        for rule in rules:
            if actions or not _applies(rule, current) or not rule.transition_days or current.inline:
                continue
            if current.policy != rule.transition_policy and unused_ms(current, now_ms) >= rule.transition_days * day_ms:
                actions.append(Action(TRANSITION, current, rule.id, rule.transition_policy))
    elif len(versions) == 1 and current.version_id:
        for rule in rules:
            if _applies(rule, current) and rule.expired_delete_markers:
                actions.append(Action(REMOVE_MARKER, current, rule.id))
                break
    for index, version in enumerate(versions[1:]):
        replaced_at_ms = versions[index].created_at_unix_ms  # the version right before it in the list
        for rule in rules:
            if not _applies(rule, version) or not rule.noncurrent_days or index < rule.noncurrent_newer_kept:
                continue
            if now_ms - replaced_at_ms >= rule.noncurrent_days * day_ms:
                actions.append(Action(REMOVE_VERSION, version, rule.id))
                break
    return actions
