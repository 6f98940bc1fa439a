"""Share links with real noded processes: a tenant shares one object, someone with no account
reads it through every node, and nothing else; a range link reads its range only; revoking the
link, its expiry, revoking the key that made it, or removing its bucket stops it on every node; the
CLI makes, uses, lists and revokes links with the documented exit codes."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
import time

import grpc
import pytest

from cluster_checks import IN_FORCE_S, in_force

from cluster_checks import metric
from nodectl.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from ringstore.auth import links, signing
from ringstore.auth.credentials import Credentials
from ringstore.auth.keys import SecretBox
from ringstore.v1 import admin_pb2, admin_pb2_grpc, object_pb2, object_pb2_grpc

CLUSTER_NODES = 3
NODECTL = os.path.join(os.path.dirname(sys.executable), "nodectl")
# A change is in force everywhere within the credential cache's 2 s plus a quorum read; the
# deadline leaves room for a loaded machine.
PHOTO = bytes(range(256)) * 40  # 10240 bytes: above the inline limit, so stored as a chunk
OTHER = b"not shared" * 100


def _key(operator, tenant: str) -> Credentials:
    made = operator.create_key(tenant)
    return Credentials(made.key.key_id, made.secret)


@pytest.fixture(scope="module")
def setup(module_cluster):
    """Tenant sharer owns bucket album (photo.jpg, other.txt); tenant stranger owns nothing."""
    cluster = module_cluster
    with cluster.client() as operator:
        operator.create_tenant("sharer")
        operator.create_tenant("stranger")
        keys = {"sharer": _key(operator, "sharer"), "stranger": _key(operator, "stranger")}
    with cluster.client(credentials=keys["sharer"]) as sharer:
        sharer.create_bucket("album")
        sharer.put("album", "photo.jpg", PHOTO)
        sharer.put("album", "other.txt", OTHER)
    return cluster, keys


def _anyone(cluster, address):
    """A client with no credentials at all."""
    return cluster.client(address, credentials=False, retries_max=0)


def _flip_signature_character(token: str) -> str:
    """The token with one character of its signature changed, still canonical base64url. The last
    character of a 32-byte signature carries two padding bits that must be zero, so changing it could
    make the token malformed (exit 2) rather than forged (exit 9); a character inside cannot."""
    index = len(token) - 5
    return token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1:]


def _refused(client, link, reason_text, kind=Unauthenticated):
    """An AssertionError (for _poll) while the link still reads, else the refusal's message."""
    try:
        client.get_bytes(link=link)
    except kind as err:
        assert reason_text in str(err), str(err)
        return str(err)
    raise AssertionError("the link still reads")


def test_a_link_reads_its_object_through_every_node_without_an_account(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        made = sharer.create_share_link("album", "photo.jpg", expires_in="1h")
    assert made.token.startswith("rsl1.") and len(made.token) <= links.TOKEN_CHARS_MAX
    assert made.link.state == "active" and made.link.tenant == "sharer" and made.link.key_id == keys["sharer"].key_id
    assert 3_590_000 <= made.link.expires_at_unix_ms - made.link.created_at_unix_ms <= 3_600_000
    for node in cluster.nodes.values():
        with _anyone(cluster, node.address) as anyone:
            assert anyone.get_bytes(link=made.token) == PHOTO, node.node_id
            assert anyone.stat(link=made.token).info.size_bytes == len(PHOTO)
            with pytest.raises(Unauthenticated, match="this call needs an access key"):
                anyone.get_bytes("album", "photo.jpg")  # the object itself is not public


def test_a_link_does_nothing_else(setup):
    """The link's holder cannot read another key, list, put, delete, make links or call admin, on
    any node; each refusal is PERMISSION_DENIED naming the link, and counted."""
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        token = sharer.create_share_link("album", "photo.jpg").token
    header = ((links.HEADER_LINK, token),)
    before = sum(metric(cluster, n, 'ringstore_auth_failures_total{reason="link_denied"}') for n in cluster.nodes)
    for node in cluster.nodes.values():
        with _anyone(cluster, node.address) as anyone:
            for bucket, key in (("album", "other.txt"), ("album", "photo.jpg.bak"), ("elsewhere", "photo.jpg")):
                with pytest.raises(PermissionDenied, match="is for album/photo.jpg only") as info:
                    anyone.get_bytes(bucket, key, link=token)
                assert info.value.exit_code == 11
                with pytest.raises(PermissionDenied):
                    anyone.stat(bucket, key, link=token)
        with cluster.channel(node.address) as channel:
            objects = object_pb2_grpc.ObjectServiceStub(channel)
            calls = [
                lambda: objects.ListObjects(object_pb2.ListObjectsRequest(bucket="album"), metadata=header, timeout=10),
                lambda: objects.ListBuckets(object_pb2.ListBucketsRequest(), metadata=header, timeout=10),
                lambda: objects.DeleteObject(object_pb2.DeleteObjectRequest(bucket="album", key="photo.jpg"),
                                             metadata=header, timeout=10),
                lambda: objects.PutObject(iter([object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(
                    bucket="album", key="photo.jpg"))]), metadata=header, timeout=10),
                lambda: objects.CreateShareLink(object_pb2.CreateShareLinkRequest(bucket="album", key="other.txt"),
                                                metadata=header, timeout=10),
                lambda: objects.RevokeShareLink(object_pb2.RevokeShareLinkRequest(link_id=links.peek(token).link_id),
                                                metadata=header, timeout=10),
                lambda: admin_pb2_grpc.AdminServiceStub(channel).ListKeys(admin_pb2.ListKeysRequest(),
                                                                          metadata=header, timeout=10),
            ]
            for call in calls:
                with pytest.raises(grpc.RpcError) as err:
                    call()
                assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value.details()
                assert "may only get and stat album/photo.jpg" in err.value.details()
            # A signature beside the link is refused too: one credential per call.
            signed = signing.sign(keys["stranger"].key_id, keys["stranger"].secret,
                                  "/ringstore.v1.ObjectService/StatObject", signing.resource("album", "photo.jpg"))
            with pytest.raises(grpc.RpcError) as err:
                objects.StatObject(object_pb2.StatObjectRequest(bucket="album", key="photo.jpg"),
                                   metadata=header + signed, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with cluster.client(credentials=keys["sharer"]) as sharer:
        assert sharer.get_bytes("album", "photo.jpg") == PHOTO  # nothing was deleted or overwritten
    after = sum(metric(cluster, n, 'ringstore_auth_failures_total{reason="link_denied"}') for n in cluster.nodes)
    assert after - before >= CLUSTER_NODES * (6 + 7)


def test_a_range_link_returns_only_its_range(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        made = sharer.create_share_link("album", "photo.jpg", range_start_bytes=1000, range_length_bytes=1000)
    assert (made.link.range_start_bytes, made.link.range_length_bytes) == (1000, 1000)
    for node in cluster.nodes.values():
        with _anyone(cluster, node.address) as anyone:
            assert anyone.get_bytes(link=made.token) == PHOTO[1000:2000]
            assert anyone.get_bytes(link=made.token, range_start_bytes=1500, range_length_bytes=100) == \
                PHOTO[1500:1600]
            assert anyone.get_bytes(link=made.token, range_start_bytes=1999) == PHOTO[1999:2000]
            for start, length in ((0, None), (999, 10), (1500, 600), (2000, 1)):
                with pytest.raises(PermissionDenied, match="covers bytes 1000-1999 of album/photo.jpg: it may not "
                                                           "read bytes"):
                    anyone.get_bytes(link=made.token, range_start_bytes=start, range_length_bytes=length)


def test_a_revoked_link_fails_on_every_node_within_seconds(setup):
    """Every node has the link cached as good; revoke it through node-1 and poll each node until it
    refuses, naming the revocation; print the time each took (the figure the docs quote)."""
    cluster, keys = setup
    with cluster.client(cluster.nodes["node-1"].address, credentials=keys["sharer"]) as sharer:
        made = sharer.create_share_link("album", "photo.jpg")
        for node in cluster.nodes.values():
            with _anyone(cluster, node.address) as anyone:
                assert anyone.get_bytes(link=made.token) == PHOTO
        revoked_at = time.monotonic()
        revoked = sharer.revoke_share_link(made.link.link_id)
        assert revoked.state == "revoked" and revoked.revoked_at_unix_ms > 0
        again = sharer.revoke_share_link(made.link.link_id)  # idempotent, the first time kept
        assert again.revoked_at_unix_ms == revoked.revoked_at_unix_ms
        listed = {link.link_id: link for link in sharer.list_share_links("album")}
        assert listed[made.link.link_id].state == "revoked"
    refused_after = {}
    for node_id, node in cluster.nodes.items():
        with _anyone(cluster, node.address) as anyone:
            in_force(lambda: _refused(anyone, made.token, f"share link {made.link.link_id} was revoked at"),
                  f"revoked link on {node_id}")
            refused_after[node_id] = round(time.monotonic() - revoked_at, 2)
    print(f"revoked share link refused after (s, polled in node order): {refused_after}")
    assert max(refused_after.values()) < IN_FORCE_S


def test_an_expired_link_fails_everywhere_saying_when(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        made = sharer.create_share_link("album", "photo.jpg", expires_in=3.0)
    for node in cluster.nodes.values():
        with _anyone(cluster, node.address) as anyone:
            assert anyone.get_bytes(link=made.token) == PHOTO
    for node_id, node in cluster.nodes.items():
        with _anyone(cluster, node.address) as anyone:
            message = in_force(lambda: _refused(anyone, made.token, f"share link {made.link.link_id} expired at "),
                            f"expiry on {node_id}", deadline_s=3.0 + IN_FORCE_S)
            assert " UTC (" in message and " ago)" in message, message
    with cluster.client(credentials=keys["sharer"]) as sharer:
        assert {link.link_id: link.state for link in sharer.list_share_links()}[made.link.link_id] == "expired"


def test_revoking_the_granting_key_kills_its_links(setup):
    cluster, keys = setup
    with cluster.client() as operator:
        doomed = _key(operator, "sharer")
        with cluster.client(credentials=doomed) as sharer:
            made = sharer.create_share_link("album", "photo.jpg")
        for node in cluster.nodes.values():
            with _anyone(cluster, node.address) as anyone:
                assert anyone.get_bytes(link=made.token) == PHOTO
        operator.revoke_key(doomed.key_id)
        for node_id, node in cluster.nodes.items():
            with _anyone(cluster, node.address) as anyone:
                in_force(lambda: _refused(anyone, made.token, f"was made with access key {doomed.key_id}, which was "
                                                           "revoked at"), f"link of a revoked key on {node_id}")
        listed = {link.link_id: link for link in operator.list_share_links("album")}
        assert listed[made.link.link_id].state == "grantor-revoked"


def test_a_link_does_not_outlive_its_bucket(setup):
    """rb, then mb of the same name and a put of the same key: the old link reads nothing."""
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        sharer.create_bucket("fleeting")
        sharer.put("fleeting", "note", b"first bucket's")
        made = sharer.create_share_link("fleeting", "note")
        with _anyone(cluster, cluster.any_address()) as anyone:
            assert anyone.get_bytes(link=made.token) == b"first bucket's"
        sharer.delete("fleeting", "note")
        sharer.delete_bucket("fleeting")
        sharer.create_bucket("fleeting")
        sharer.put("fleeting", "note", b"second bucket's")
        for node_id, node in cluster.nodes.items():
            with _anyone(cluster, node.address) as anyone:
                in_force(lambda: _refused(anyone, made.token, "it was made for bucket 'fleeting' as created at"),
                      f"recreated bucket on {node_id}")
        assert {link.link_id: link.state for link in sharer.list_share_links("fleeting")}[made.link.link_id] == \
            "bucket-removed"


def test_bad_tokens_are_refused_by_name(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        token = sharer.create_share_link("album", "photo.jpg").token
    with open(cluster.secret_file, "rb") as f:
        link_key = SecretBox(f.read().strip()).link_key()
    grant = links.verify(token, link_key)
    never_recorded = links.encode(dataclasses.replace(grant, link_id=links.new_link_id()), link_key)
    widened = links.encode(dataclasses.replace(grant, range_start_bytes=0, range_length_bytes=0,
                                               key="other.txt"), link_key)
    signed, _, mac = token.rpartition(".")
    flipped = signed + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    payload_part = token.split(".")[1]
    edited = json.dumps({**grant.to_payload(), "k": "other.txt"}, separators=(",", ":")).encode()
    other_object = token.replace(payload_part, base64.urlsafe_b64encode(edited).rstrip(b"=").decode())
    with _anyone(cluster, cluster.any_address()) as anyone:
        for bad, message in ((flipped, "signature does not check out"), (other_object, "signature does not check out"),
                             (never_recorded, "is not known to this cluster"),
                             (widened, "does not match the cluster's record")):
            with pytest.raises(Unauthenticated, match=message) as info:
                anyone.get_bytes(link=bad)
            assert info.value.exit_code == 9 and "\n" not in str(info.value)
        with pytest.raises(InvalidArgument, match="not of the form rsl1.<payload>.<mac>") as info:
            anyone.get_bytes(link="https://example.com/not-a-link")
        assert info.value.exit_code == 2
    with cluster.channel(cluster.any_address()) as channel:  # what the node itself says to a raw caller
        objects = object_pb2_grpc.ObjectServiceStub(channel)
        for bad, message in (("rsl9.e30.AAAA", "has format 'rsl9'"), ("x" * 5000, "is 5000 characters"),
                             (token[:-2], "signature is 41 characters")):
            with pytest.raises(grpc.RpcError) as err:
                objects.StatObject(object_pb2.StatObjectRequest(bucket="album", key="photo.jpg"),
                                   metadata=((links.HEADER_LINK, bad),), timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and message in err.value.details()
    counted = {reason: sum(metric(cluster, n, f'ringstore_auth_failures_total{{reason="{reason}"}}')
                           for n in cluster.nodes)
               for reason in ("link_bad_mac", "link_unknown", "link_malformed")}
    assert counted["link_bad_mac"] >= 2 and counted["link_unknown"] >= 2 and counted["link_malformed"] >= 3, counted


def test_other_tenants_cannot_share_see_or_revoke_anothers_links(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["sharer"]) as sharer:
        made = sharer.create_share_link("album", "photo.jpg")
    with cluster.client(credentials=keys["stranger"], retries_max=0) as stranger:
        with pytest.raises(PermissionDenied, match="may not get in bucket 'album': it belongs to another tenant"):
            stranger.create_share_link("album", "photo.jpg")
        assert stranger.list_share_links() == []
        with pytest.raises(PermissionDenied, match=f"may not revoke share link {made.link.link_id}"):
            stranger.revoke_share_link(made.link.link_id)
        with pytest.raises(NotFound):
            stranger.revoke_share_link(links.new_link_id())
        with pytest.raises(InvalidArgument, match="is not a share link id"):
            stranger.revoke_share_link("nonsense")
    with cluster.client(credentials=keys["sharer"]) as sharer:
        with pytest.raises(NotFound):
            sharer.create_share_link("album", "no-such-object")
    with cluster.client() as operator:
        assert made.link.link_id in {link.link_id for link in operator.list_share_links()}
    with _anyone(cluster, cluster.any_address()) as anyone:
        assert anyone.get_bytes(link=made.token) == PHOTO


def test_the_cli_shares_gets_lists_and_revokes(setup, tmp_path):
    """As a user types it: `share` prints the token once (--json), `get --link` needs no account at
    all, `share ls` shows the link without its token, `share revoke` stops it (exit 9 after), a link
    used for another object exits 11, a mangled token 2 (it cannot even name an object) or 9."""
    cluster, keys = setup
    base = {name: value for name, value in os.environ.items()
            if name not in ("RINGSTORE_ACCESS_KEY_ID", "RINGSTORE_SECRET_ACCESS_KEY", "RINGSTORE_PROFILE")}
    base.update({"RINGSTORE_ADDR": cluster.any_address(), "RINGSTORE_CA": cluster.ca_file, "HOME": str(tmp_path)})
    sharer = {**base, "RINGSTORE_ACCESS_KEY_ID": keys["sharer"].key_id,
              "RINGSTORE_SECRET_ACCESS_KEY": keys["sharer"].secret}

    def nodectl(*args, env, code=0):
        done = subprocess.run([NODECTL, *args], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        if code:
            assert done.stderr.startswith("nodectl: error: ") and done.stderr.count("\n") == 1, done.stderr
        return done.stdout if not code else done.stderr

    made = json.loads(nodectl("share", "album/photo.jpg", "--expires-in", "1h", "--range", "10-29", "--json",
                              env=sharer))
    token, link_id = made["token"], made["link_id"]
    assert made["state"] == "active" and (made["range_start_bytes"], made["range_length_bytes"]) == (10, 20)
    text = nodectl("share", "album/other.txt", env=sharer)
    assert "read-only, expires" in text and ("(in 1 h 0 min)" in text or "(in 59 min" in text), text
    assert text.splitlines()[-1].startswith("rsl1.")

    out = tmp_path / "got"
    assert nodectl("get", "--link", token, str(out), env=base) == ""  # no key anywhere in this environment
    assert out.read_bytes() == PHOTO[10:30]
    nodectl("--addr", cluster.nodes["node-3"].address, "get", "--link", token, "-", env=base)
    assert "is for album/photo.jpg only" in nodectl("get", "--link", token, "album/other.txt", str(out), env=base,
                                                    code=11)
    assert "not of the form" in nodectl("get", "--link", "garbage", str(out), env=base, code=2)
    assert "does not check out" in nodectl("get", "--link", _flip_signature_character(token),
                                           str(out), env=base, code=9)
    assert "Missing argument" in nodectl("get", "album/photo.jpg", env=sharer, code=2)

    listed = json.loads(nodectl("share", "ls", "album", "--json", env=sharer))
    mine = [link for link in listed if link["link_id"] == link_id]
    assert len(mine) == 1 and "token" not in mine[0] and mine[0]["state"] == "active"
    assert token not in json.dumps(listed)
    table = nodectl("share", "ls", env=sharer)
    assert table.splitlines()[0].split() == ["LINK", "OBJECT", "RANGE", "GRANTOR", "EXPIRES", "(UTC)", "STATE"]
    row = next(line for line in table.splitlines() if line.startswith(link_id))
    assert "album/photo.jpg" in row and "10-29" in row and keys["sharer"].key_id in row and row.endswith("active")
    assert nodectl("share", "ls", env=base, code=9)  # listing needs a key

    assert "revoked share link " + link_id in nodectl("share", "revoke", link_id, env=sharer)
    in_force(lambda: nodectl("get", "--link", token, str(out), env=base, code=9), "CLI revoke")
    assert "was revoked at" in nodectl("get", "--link", token, str(out), env=base, code=9)
    assert "is not a share link id" in nodectl("share", "revoke", "RK-nope", env=sharer, code=2)
    assert "does not exist" in nodectl("share", "revoke", links.new_link_id(), env=sharer, code=3)
    assert nodectl("share", "no-such-bucket/x", env=sharer, code=3)
