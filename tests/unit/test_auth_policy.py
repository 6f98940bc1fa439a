"""What a verified key may do (node/auth/policy.py), rule by rule, without a cluster."""

from __future__ import annotations

import dataclasses

import pytest

from node import errors
from node.auth import policy
from node.auth.principal import ANONYMOUS, reset_caller, set_caller
from node.auth.store import Access
from ringstore.auth.keys import AccessKey


def _key(**scopes) -> AccessKey:
    return AccessKey(key_id="RKAAAAAAAAAAAAAAAAAA", tenant="alice", sealed_secret=b"x" * 40, created_at_unix_ms=1,
                     **scopes)


@pytest.fixture
def as_caller():
    tokens = []

    def use(key):
        tokens.append(set_caller(key))

    yield use
    for token in reversed(tokens):
        reset_caller(token)


def test_nobody_checked_and_the_operator_may_do_everything(as_caller):
    policy.check("put", "b", "bob", "k")  # no caller: --insecure, or a peer's call
    as_caller(_key(role="operator"))
    policy.check("delete", "b", "bob", "k")
    assert policy.owner_for_new_bucket("b") == "" and policy.may_see("b", "bob", None)


def test_a_tenant_key_works_in_its_tenants_buckets_only(as_caller):
    as_caller(_key())
    policy.check("put", "mine", "alice", "k")
    with pytest.raises(errors.PermissionDenied, match=r"\(tenant alice\) may not get in bucket 'theirs': it belongs"):
        policy.check("get", "theirs", "bob", "k")
    with pytest.raises(errors.PermissionDenied):
        policy.check("list", "operators", "", prefix="")  # a bucket the operator made belongs to no tenant
    assert policy.owner_for_new_bucket("new") == "alice"
    assert policy.may_see("mine", "alice", None) and not policy.may_see("theirs", "bob", None)


@pytest.mark.parametrize("action", sorted(policy.WRITE_ACTIONS | policy.OWNER_ACTIONS))
def test_a_read_only_key_only_reads(as_caller, action):
    as_caller(_key(read_only=True))
    for read in sorted(policy.READ_ACTIONS):
        policy.check(read, "mine", "alice", "k", prefix="" if read == "list" else None)
    with pytest.raises(errors.PermissionDenied, match=f"is read-only: it may not {action}"):
        policy.check(action, "mine", "alice", "k")
    with pytest.raises(errors.PermissionDenied, match="cannot create bucket"):
        policy.owner_for_new_bucket("new")


def test_bucket_and_prefix_scopes(as_caller):
    as_caller(_key(bucket="photos", prefix="2026/"))
    policy.check("put", "photos", "alice", "2026/cat.jpg")
    policy.check("list", "photos", "alice", prefix="2026/07/")
    with pytest.raises(errors.PermissionDenied, match="limited to bucket 'photos'"):
        policy.check("get", "music", "alice", "2026/song")
    with pytest.raises(errors.PermissionDenied, match="may not get '2025/dog.jpg'"):
        policy.check("get", "photos", "alice", "2025/dog.jpg")
    with pytest.raises(errors.PermissionDenied, match="may not list ''"):
        policy.check("list", "photos", "alice", prefix="")
    assert policy.owner_for_new_bucket("photos") == "alice"
    with pytest.raises(errors.PermissionDenied, match="cannot create bucket 'music'"):
        policy.owner_for_new_bucket("music")
    assert policy.may_see("photos", "alice", None) and not policy.may_see("other", "alice", None)


def _access(**grants) -> Access:
    return Access(bucket="shared", bucket_created_at_unix_ms=5, grants=tuple(sorted(grants.items())))


@pytest.mark.parametrize("level, allowed", [
    ("", set()), ("read", {"get", "stat", "list", "info"}),
    ("write", {"get", "stat", "list", "info", "put", "delete", "convert"}),
    ("owner", {"get", "stat", "list", "info", "put", "delete", "convert", "remove-bucket", "grant",
               "set-public-read", "set-versioning", "set-lifecycle", "set-bucket-tags", "set-compression",
               "set-encryption"}),
])
def test_a_grant_opens_exactly_its_level(as_caller, level, allowed):
    as_caller(_key())
    access = _access(alice=level) if level else _access()
    for action in sorted(policy.READ_ACTIONS | policy.WRITE_ACTIONS | policy.OWNER_ACTIONS):
        try:
            policy.check(action, "shared", "bob", "k", prefix="" if action == "list" else None, access=access)
            got = True
        except errors.PermissionDenied:
            got = False
        assert got == (action in allowed), (level, action)
    assert policy.may_see("shared", "bob", access) == bool(level)


def test_anonymous_reads_public_buckets_only(as_caller):
    as_caller(ANONYMOUS)
    public = dataclasses.replace(_access(), public_read=True)
    policy.check("get", "shared", "bob", "k", access=public)
    for action, access in (("get", _access()), ("put", public), ("grant", public)):
        with pytest.raises(errors.Unauthenticated, match="this call needs an access key"):
            policy.check(action, "shared", "bob", "k", access=access)
    with pytest.raises(errors.Unauthenticated):
        policy.owner_for_new_bucket("new")
    assert not policy.may_see("shared", "bob", public)
