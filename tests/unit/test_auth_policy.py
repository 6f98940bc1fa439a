"""What a verified key may do (node/auth/policy.py), rule by rule, without a cluster."""

from __future__ import annotations

import pytest

from node import errors
from node.auth import policy
from node.auth.principal import reset_caller, set_caller
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
    assert policy.owner_for_new_bucket("b") == "" and policy.may_see("b", "bob")


def test_a_tenant_key_works_in_its_tenants_buckets_only(as_caller):
    as_caller(_key())
    policy.check("put", "mine", "alice", "k")
    with pytest.raises(errors.PermissionDenied, match=r"\(tenant alice\) may not get in bucket 'theirs': it belongs"):
        policy.check("get", "theirs", "bob", "k")
    with pytest.raises(errors.PermissionDenied):
        policy.check("list", "operators", "", prefix="")  # a bucket the operator made belongs to no tenant
    assert policy.owner_for_new_bucket("new") == "alice"
    assert policy.may_see("mine", "alice") and not policy.may_see("theirs", "bob")


@pytest.mark.parametrize("action", sorted(policy.WRITE_ACTIONS))
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
    assert policy.may_see("photos", "alice") and not policy.may_see("other", "alice")
