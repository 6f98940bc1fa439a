"""What a share link lets its holder do (node/auth/policy.py) and when a node takes a token
(node/auth/links.py `check`), without a cluster: one object, its range, reads only, while the record
is not revoked, the link not expired, and its granting key valid and still allowed to read."""

from __future__ import annotations

import dataclasses

import pytest

from node import errors
from node.auth import policy
from node.auth.links import ShareLink, check
from node.auth.principal import ANONYMOUS, LinkHolder, reset_caller, set_caller
from node.auth.store import Access
from ringstore.auth import links
from ringstore.auth.keys import AccessKey, SecretBox
from ringstore.auth.links import LinkError, LinkGrant

NOW_MS = 1_790_000_000_000
BUCKET_CREATED_MS = NOW_MS - 86_400_000
LINK_KEY = SecretBox(b"0123456789abcdef-cluster-key").link_key()


def _key(**changes) -> AccessKey:
    fields = dict(key_id="RKAAAAAAAAAAAAAAAAAA", tenant="alice", sealed_secret=b"x" * 40, created_at_unix_ms=1)
    fields.update(changes)
    return AccessKey(**fields)


def _grant(**changes) -> LinkGrant:
    fields = dict(link_id="RLAAAAAAAAAAAAAAAAAA", key_id="RKAAAAAAAAAAAAAAAAAA", tenant="alice", bucket="photos",
                  bucket_created_at_unix_ms=BUCKET_CREATED_MS, key="2026/cat.jpg", created_at_unix_ms=NOW_MS,
                  expires_at_unix_ms=NOW_MS + 3_600_000)
    fields.update(changes)
    return LinkGrant(**fields)


def _holder(grantor: AccessKey | None = None, **changes) -> LinkHolder:
    return LinkHolder(grant=_grant(**changes), grantor=grantor or _key())


@pytest.fixture
def as_caller():
    tokens = []

    def use(who):
        tokens.append(set_caller(who))

    yield use
    for token in reversed(tokens):
        reset_caller(token)


def _check(action, bucket="photos", key="2026/cat.jpg", *, owner="alice", prefix=None, access=None,
           created=BUCKET_CREATED_MS):
    policy.check(action, bucket, owner, key, prefix=prefix, access=access, bucket_created_at_unix_ms=created)


# --- what a link may touch --------------------------------------------------------------------

def test_a_link_gets_and_stats_its_one_object(as_caller):
    as_caller(_holder())
    _check("get")
    _check("stat")


@pytest.mark.parametrize("action", sorted(policy.WRITE_ACTIONS | policy.OWNER_ACTIONS | {"info"}))
def test_a_link_does_nothing_but_read(as_caller, action):
    as_caller(_holder())
    with pytest.raises(errors.PermissionDenied, match="may only get and stat photos/2026/cat.jpg: it may not"):
        _check(action)


def test_a_link_reads_no_other_object_and_lists_nothing(as_caller):
    as_caller(_holder())
    for bucket, key in (("photos", "2026/dog.jpg"), ("photos", "2026/cat.jpg.bak"), ("music", "2026/cat.jpg")):
        with pytest.raises(errors.PermissionDenied, match="is for photos/2026/cat.jpg only"):
            _check("get", bucket, key)
    for prefix in ("", "2026/", "2026/cat.jpg"):
        with pytest.raises(errors.PermissionDenied, match="it may not list 'photos'"):
            _check("list", key="", prefix=prefix)
    with pytest.raises(errors.PermissionDenied, match="cannot create bucket"):
        policy.owner_for_new_bucket("photos")
    assert not policy.may_see("photos", "alice", None)
    assert not policy.may_manage_link(_grant())


def test_the_scope_is_checked_before_any_lookup(as_caller):
    """`check_link_scope` is what the handler calls before reading the bucket record, so a link
    cannot learn whether another bucket exists: same refusal for a missing bucket."""
    as_caller(_holder())
    policy.check_link_scope(_holder(), "get", "photos", "2026/cat.jpg")
    with pytest.raises(errors.PermissionDenied, match="is for photos/2026/cat.jpg only"):
        policy.check_link_scope(_holder(), "get", "no-such-bucket", "x")


def test_a_recreated_bucket_is_another_bucket(as_caller):
    as_caller(_holder())
    with pytest.raises(policy.LinkBucketGone, match="was made for bucket 'photos' as created at .* which has been "
                                                    "removed") as info:
        _check("get", created=BUCKET_CREATED_MS + 1)
    assert info.value.reason == "link_bucket_gone"
    assert isinstance(info.value, errors.Unauthenticated)


# --- never worth more than its grantor --------------------------------------------------------

def test_a_link_dies_when_its_grantor_loses_read_rights(as_caller):
    """bob's link on alice's bucket works while alice grants bob read, and stops when she takes it away."""
    bob = _key(key_id="RKBBBBBBBBBBBBBBBBBB", tenant="bob")
    as_caller(_holder(grantor=bob, key_id=bob.key_id, tenant="bob"))
    granted = Access(bucket="photos", bucket_created_at_unix_ms=BUCKET_CREATED_MS, grants=(("bob", "read"),))
    _check("get", access=granted)
    for access in (None, dataclasses.replace(granted, grants=())):
        with pytest.raises(errors.PermissionDenied, match="no longer works: the key that made it may not read "
                                                          "photos/2026/cat.jpg now .*belongs to another tenant"):
            _check("get", access=access)


def test_a_link_is_held_to_its_grantors_scopes(as_caller):
    as_caller(_holder(grantor=_key(prefix="2025/")))
    with pytest.raises(errors.PermissionDenied, match="limited to keys starting with '2025/'"):
        _check("get")
    as_caller(_holder(grantor=_key(bucket="music")))
    with pytest.raises(errors.PermissionDenied, match="limited to bucket 'music'"):
        _check("get")
    as_caller(_holder(grantor=_key(read_only=True)))
    _check("get")  # read-only keys read, so their links do


def test_an_operators_link_reads_any_bucket_but_only_its_object(as_caller):
    operator = _key(key_id="RKOOOOOOOOOOOOOOOOOO", tenant="operator", role="operator")
    as_caller(_holder(grantor=operator, key_id=operator.key_id, tenant="operator"))
    _check("get", owner="somebody-else")
    with pytest.raises(errors.PermissionDenied):
        _check("put", owner="somebody-else")
    with pytest.raises(errors.PermissionDenied):
        _check("get", key="other", owner="somebody-else")


# --- ranges -----------------------------------------------------------------------------------

def test_a_range_link_reads_its_range_when_asked_for_none_and_nothing_outside(as_caller):
    as_caller(_holder(range_start_bytes=100, range_length_bytes=50))  # bytes 100-149
    assert policy.link_range(None, None) == (100, 50)
    assert policy.link_range(100, None) == (100, 50)
    assert policy.link_range(120, 10) == (120, 10)  # a resumed read of the rest
    assert policy.link_range(149, 1) == (149, 1)
    assert policy.link_range(None, 50) == (100, 50)
    for start, length in ((99, 10), (0, None), (140, 20), (150, None), (150, 1), (100, 51), (None, 51)):
        with pytest.raises(errors.PermissionDenied, match="covers bytes 100-149 of photos/2026/cat.jpg: it may not "
                                                          "read bytes"):
            policy.link_range(start, length)


def test_an_open_range_link_reads_to_the_end(as_caller):
    as_caller(_holder(range_start_bytes=100))
    assert policy.link_range(None, None) == (100, None)
    assert policy.link_range(5000, 7) == (5000, 7)
    with pytest.raises(errors.PermissionDenied, match="covers bytes 100- of"):
        policy.link_range(99, None)


def test_ranges_are_untouched_for_everyone_else(as_caller):
    assert policy.link_range(None, None) == (None, None)
    for who in (_key(), ANONYMOUS, _holder()):
        as_caller(who)
        assert policy.link_range(3, 4) == (3, 4) and policy.link_range(None, None) == (None, None)


# --- who sees and revokes links ---------------------------------------------------------------

def test_who_may_manage_a_link(as_caller):
    grant = _grant(key="2026/cat.jpg")
    as_caller(_key(role="operator", tenant="operator"))
    assert policy.may_manage_link(grant)
    as_caller(_key(key_id="RKCCCCCCCCCCCCCCCCCC"))  # another key of the same tenant
    assert policy.may_manage_link(grant)
    as_caller(_key(tenant="bob"))
    assert not policy.may_manage_link(grant)
    as_caller(_key(bucket="music"))
    assert not policy.may_manage_link(grant)
    as_caller(_key(prefix="2026/"))
    assert policy.may_manage_link(grant)
    as_caller(_key(prefix="2025/"))
    assert not policy.may_manage_link(grant)
    as_caller(ANONYMOUS)
    assert not policy.may_manage_link(grant)


# --- the door: node/auth/links.check ----------------------------------------------------------

class _Records:
    """record(link_id) and access_key(key_id) as the credential cache answers them, counting reads."""

    def __init__(self, record: ShareLink | None, key: AccessKey | None) -> None:
        self.record, self.key, self.reads = record, key, []

    def link(self, link_id):
        self.reads.append(link_id)
        return self.record

    def access_key(self, key_id):
        self.reads.append(key_id)
        return self.key


def _door(token, records: _Records, now_ms=NOW_MS + 1000):
    return check(token, link_key=LINK_KEY, now_ms=now_ms, record=records.link, access_key=records.access_key)


def test_a_valid_link_passes_the_door_as_its_holder():
    grant = _grant()
    holder = _door(links.encode(grant, LINK_KEY), _Records(ShareLink(grant), _key()))
    assert holder == LinkHolder(grant=grant, grantor=_key())
    assert holder.key_id == "share link RLAAAAAAAAAAAAAAAAAA" and holder.role == "link" and not holder.tenant


def test_an_expired_link_is_refused_without_reading_metadata():
    grant = _grant()
    records = _Records(ShareLink(grant), _key())
    with pytest.raises(LinkError, match=r"expired at 2026-09-21 15:13:20 UTC \(1 h 0 min ago\)") as info:
        _door(links.encode(grant, LINK_KEY), records, now_ms=grant.expires_at_unix_ms + 3_600_000)
    assert info.value.reason == "link_expired" and records.reads == []


@pytest.mark.parametrize("record, key, reason, message", [
    (None, _key(), "link_unknown", "is not known to this cluster"),
    (ShareLink(_grant(key="2026/dog.jpg")), _key(), "link_unknown", "does not match the cluster's record"),
    (ShareLink(_grant(), revoked_at_unix_ms=NOW_MS + 500), _key(), "link_revoked",
     "was revoked at 2026-09-21 14:13:20 UTC"),
    (ShareLink(_grant()), None, "link_grantor_invalid", "which is not known to this cluster"),
    (ShareLink(_grant()), _key(tenant="bob"), "link_grantor_invalid", "which is not known to this cluster"),
    (ShareLink(_grant()), _key(revoked_at_unix_ms=NOW_MS), "link_grantor_invalid",
     "was made with access key RKAAAAAAAAAAAAAAAAAA, which was revoked at 2026-09-21 14:13:20 UTC: links die with "
     "the key"),
    (ShareLink(_grant()), _key(expires_at_unix_ms=NOW_MS), "link_grantor_invalid", "which expired at 2026-09-21 14:13:20 UTC"),
])
def test_the_door_refuses_by_reason(record, key, reason, message):
    with pytest.raises(LinkError, match=message) as info:
        _door(links.encode(_grant(), LINK_KEY), _Records(record, key))
    assert info.value.reason == reason and "\n" not in str(info.value)


def test_the_door_checks_the_mac_before_reading_anything():
    records = _Records(ShareLink(_grant()), _key())
    token = links.encode(_grant(), SecretBox(b"another-cluster-key-0123").link_key())
    with pytest.raises(LinkError) as info:
        _door(token, records)
    assert info.value.reason == "link_bad_mac" and records.reads == []
