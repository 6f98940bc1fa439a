"""Bucket grants and public read with real noded processes: each grant opens exactly what it says,
through every node, and taking it away closes it again; a public-read bucket answers callers with
no key, reads only; grants do not outlive the bucket they were made for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cluster_checks import in_force

from nodectl.errors import NotFound, PermissionDenied, Unauthenticated
from ringstore.auth.credentials import Credentials

CLUSTER_NODES = 3
NODECTL = os.path.join(os.path.dirname(sys.executable), "nodectl")


@pytest.fixture(scope="module")
def setup(module_cluster):
    cluster = module_cluster
    with cluster.client() as operator:
        keys = {}
        for name in ("owner", "guest", "other"):
            operator.create_tenant(name)
            made = operator.create_key(name)
            keys[name] = Credentials(made.key.key_id, made.secret)
    with cluster.client(credentials=keys["owner"]) as owner:
        owner.create_bucket("shared")
        owner.put("shared", "doc", b"the owner's")
    return cluster, keys


def _can(client, action: str) -> bool:
    attempts = {
        "get": lambda: client.get_bytes("shared", "doc"),
        "list": lambda: list(client.list_objects("shared")),
        "put": lambda: client.put("shared", "guest-note", b"from a guest"),
        "delete": lambda: client.delete("shared", "guest-note"),
        "grant": lambda: client.grant_bucket("shared", "other", "read"),
    }
    try:
        attempts[action]()
        return True
    except (PermissionDenied, Unauthenticated):
        return False


def test_each_grant_opens_what_it_says_on_every_node_and_revoking_closes_it(setup):
    cluster, keys = setup
    expected = {"": set(), "read": {"get", "list"}, "write": {"get", "list", "put", "delete"},
                "owner": {"get", "list", "put", "delete", "grant"}}
    with cluster.client(credentials=keys["owner"]) as owner:
        for level in ("read", "write", "owner", ""):
            access = owner.grant_bucket("shared", "guest", level)
            assert access.grants.get("guest", "") == level
            for node in cluster.nodes.values():
                with cluster.client(node.address, credentials=keys["guest"], retries_max=0) as guest:
                    def check(guest=guest, level=level):
                        allowed = {action for action in ("get", "list", "put", "delete", "grant")
                                   if _can(guest, action)}
                        assert allowed == expected[level], (level, allowed)
                        listed = [b.name for b in guest.list_buckets()]
                        assert ("shared" in listed) == bool(level), listed
                    in_force(check, f"guest with {level or 'no'} rights on {node.node_id}")
            owner.grant_bucket("shared", "other", "")  # the owner-level guest granted it above
        info = owner.bucket_info("shared")
        assert (info.access.owner, info.access.grants, info.access.public_read) == ("owner", {}, False)
    with cluster.client(credentials=keys["other"], retries_max=0) as other:
        with pytest.raises(PermissionDenied, match="may not info in bucket 'shared'"):
            other.bucket_info("shared")


def test_public_read_lets_anyone_read_and_nothing_else(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["owner"]) as owner:
        owner.create_bucket("public-site")
        owner.put("public-site", "index.html", b"<h1>hello</h1>")
    with cluster.client(credentials=keys["other"], retries_max=0) as other:
        with pytest.raises(PermissionDenied):
            other.set_public_read("public-site", True)
    with cluster.client(credentials=keys["owner"]) as owner:
        owner.set_public_read("public-site", True)
    for node in cluster.nodes.values():
        with cluster.client(node.address, credentials=False, retries_max=0) as anyone:
            def reads(anyone=anyone):
                assert anyone.get_bytes("public-site", "index.html") == b"<h1>hello</h1>"
            in_force(reads, f"public read on {node.node_id}")
            assert [o.key for o in anyone.list_objects("public-site")] == ["index.html"]
            for write in (lambda: anyone.put("public-site", "x", b"x"), lambda: anyone.delete("public-site", "index.html"),
                          anyone.list_buckets, lambda: anyone.get_bytes("shared", "doc")):
                with pytest.raises(Unauthenticated, match="this call needs an access key"):
                    write()
    with cluster.client(credentials=keys["owner"]) as owner:
        owner.set_public_read("public-site", False)
    with cluster.client(credentials=False, retries_max=0) as anyone:
        def closed():
            try:
                anyone.get_bytes("public-site", "index.html")
            except Unauthenticated:
                return
            raise AssertionError("still readable without a key")
        in_force(closed, "public read off")


def test_grants_do_not_outlive_their_bucket(setup):
    """rb, then mb of the same name by another tenant: the old grant and public read are gone."""
    cluster, keys = setup
    with cluster.client(credentials=keys["owner"]) as owner:
        owner.create_bucket("recycled")
        owner.grant_bucket("recycled", "guest", "write")
        owner.set_public_read("recycled", True)
        owner.delete_bucket("recycled")
    with cluster.client(credentials=keys["other"]) as other:
        other.create_bucket("recycled")
        other.put("recycled", "mine", b"other's")
        info = other.bucket_info("recycled")
        assert (info.access.owner, info.access.grants, info.access.public_read) == ("other", {}, False)
    with cluster.client(credentials=keys["guest"], retries_max=0) as guest:
        with pytest.raises(PermissionDenied, match="it belongs to another tenant"):
            guest.get_bytes("recycled", "mine")
    with cluster.client(credentials=False, retries_max=0) as anyone:
        with pytest.raises(Unauthenticated):
            anyone.get_bytes("recycled", "mine")
        with pytest.raises((NotFound, Unauthenticated)):
            anyone.stat("no-such-bucket", "x")


def test_the_cli_makes_tenants_keys_and_grants(setup, tmp_path):
    """nodectl admin tenant/key and bucket grant/info/set, as a user types them: the key's secret
    is printed once (--json) and never listed; the grant and public read show in bucket info."""
    cluster, _ = setup
    env = {**os.environ, "RINGSTORE_ADDR": cluster.any_address(), "RINGSTORE_CA": cluster.ca_file,
           "HOME": str(tmp_path)}

    def nodectl(*args, key=None):
        extra = {} if key is None else {"RINGSTORE_ACCESS_KEY_ID": key["key_id"],
                                        "RINGSTORE_SECRET_ACCESS_KEY": key["secret"]}
        done = subprocess.run([NODECTL, *args], capture_output=True, text=True, timeout=60, env={**env, **extra})
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    assert nodectl("admin", "tenant", "create", "dora").startswith("created tenant dora")
    assert "dora" in nodectl("admin", "tenant", "ls")
    dora = json.loads(nodectl("admin", "key", "create", "--tenant", "dora", "--json"))
    assert dora["tenant"] == "dora" and len(dora["secret"]) >= 20
    listed = json.loads(nodectl("admin", "key", "ls", "--tenant", "dora", "--json"))
    assert [k["key_id"] for k in listed] == [dora["key_id"]] and "secret" not in listed[0]
    nodectl("mb", "dora-box", key=dora)
    nodectl("bucket", "grant", "dora-box", "--tenant", "guest", "--read", key=dora)
    nodectl("bucket", "set", "dora-box", "--public-read", "on", key=dora)
    info = json.loads(nodectl("bucket", "info", "dora-box", "--json", key=dora))
    assert info["access"] == {"bucket": "dora-box", "owner": "dora", "grants": {"guest": "read"}, "public_read": True}
    assert "revoked" in nodectl("admin", "key", "revoke", dora["key_id"])
