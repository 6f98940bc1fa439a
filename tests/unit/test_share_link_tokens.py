"""Share link tokens (ringstore/auth/links.py): the rsl1 format round-trips, any change to a token is
refused, a token of another cluster or format is refused, the length limit holds both ways, and the
payload is parsed strictly; the node's record of a link (node/auth/links.py) round-trips and its
state says what stops a link."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from node.auth.links import ShareLink, state
from ringstore.auth import links
from ringstore.auth.keys import AccessKey, SecretBox
from ringstore.auth.links import LinkError, LinkGrant

CLUSTER_KEY = b"0123456789abcdef-cluster-key"
OTHER_CLUSTER_KEY = b"fedcba9876543210-cluster-key"
LINK_KEY = SecretBox(CLUSTER_KEY).link_key()
NOW_MS = 1_790_000_000_000


def _grant(**changes) -> LinkGrant:
    fields = dict(link_id="RLABCDEFGHIJKLMNOPQR", key_id="RKABCDEFGHIJKLMNOPQR", tenant="acme", bucket="photos",
                  bucket_created_at_unix_ms=NOW_MS - 86_400_000, key="2026/cat.jpg", created_at_unix_ms=NOW_MS,
                  expires_at_unix_ms=NOW_MS + 3_600_000)
    fields.update(changes)
    return LinkGrant(**fields)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(payload: object, *, key: bytes = LINK_KEY, version: str = "rsl1") -> str:
    """A token with `payload` (any JSON, or raw bytes) correctly signed with `key`: what the strict
    parser must refuse even when the MAC holds."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signed = f"{version}.{_b64(raw)}"
    return f"{signed}.{_b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())}"


# --- the format --------------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [{}, {"range_start_bytes": 100, "range_length_bytes": 50},
                                     {"range_start_bytes": 7}, {"key": "ünïcode/ключ 🐈 with spaces"},
                                     {"tenant": "operator"}])
def test_a_token_round_trips_and_is_url_safe(changes):
    grant = _grant(**changes)
    token = links.encode(grant, LINK_KEY)
    assert token.startswith("rsl1.") and token.count(".") == 2
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert links.verify(token, LINK_KEY) == grant
    assert links.peek(token) == grant
    assert len(token.rsplit(".", 1)[1]) == links.MAC_CHARS


def test_the_mac_is_hmac_sha256_under_the_link_subkey_over_version_and_payload_text():
    """Pinned so a node of another version computes the same MAC."""
    token = links.encode(_grant(), LINK_KEY)
    signed, mac = token.rsplit(".", 1)
    assert mac == _b64(hmac.new(LINK_KEY, signed.encode(), hashlib.sha256).digest())
    payload = json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "=="))
    assert payload == {"i": "RLABCDEFGHIJKLMNOPQR", "g": "RKABCDEFGHIJKLMNOPQR", "t": "acme", "b": "photos",
                       "bc": NOW_MS - 86_400_000, "k": "2026/cat.jpg", "c": NOW_MS, "e": NOW_MS + 3_600_000}


def test_changing_any_character_of_a_token_is_refused():
    """Every position, each replaced by another URL-safe character: none verifies (the MAC covers
    version and payload text; base64 must be canonical, so a stray bit in the MAC's last character
    is not a second spelling of the same MAC)."""
    token = links.encode(_grant(range_start_bytes=3, range_length_bytes=4), LINK_KEY)
    for position in range(len(token)):
        for replacement in {"A", "B", "-", "_", "."} - {token[position]}:
            tampered = token[:position] + replacement + token[position + 1:]
            with pytest.raises(LinkError) as info:
                links.verify(tampered, LINK_KEY)
            assert info.value.reason in ("link_malformed", "link_bad_mac"), (position, replacement)


def test_cut_or_extended_tokens_are_refused():
    token = links.encode(_grant(), LINK_KEY)
    for bad in (token[:-1], token[1:], token + "A", token + ".", " " + token, token + "\n", "", "rsl1..", "rsl1"):
        with pytest.raises(LinkError):
            links.verify(bad, LINK_KEY)


def test_a_token_of_another_cluster_is_a_bad_mac():
    token = links.encode(_grant(), SecretBox(OTHER_CLUSTER_KEY).link_key())
    with pytest.raises(LinkError, match="does not check out: it was altered, cut, or made by another cluster") as info:
        links.verify(token, LINK_KEY)
    assert info.value.reason == "link_bad_mac"
    assert links.peek(token) == _grant()  # readable, but nothing a node acts on


def test_the_link_key_is_its_own_hkdf_subkey():
    """Not the cluster key, not the secrets subkey: a token cannot be made from either."""
    for key in (CLUSTER_KEY, hashlib.sha256(CLUSTER_KEY).digest()):
        assert key != LINK_KEY
        forged = _forge(_grant().to_payload(), key=key[:32].ljust(32, b"\0"))
        with pytest.raises(LinkError, match="does not check out"):
            links.verify(forged, LINK_KEY)


@pytest.mark.parametrize("version", ["rsl2", "rsl0", "RSL1", "jwt"])
def test_another_format_version_is_refused_by_name(version):
    token = _forge(_grant().to_payload(), version=version)
    with pytest.raises(LinkError, match=f"has format '{version}'; this software reads 'rsl1' links") as info:
        links.verify(token, LINK_KEY)
    assert info.value.reason == "link_malformed"
    with pytest.raises(LinkError):
        links.peek(token)


def test_length_limits_hold_both_ways():
    """A token over TOKEN_CHARS_MAX is refused before any work; encode refuses to make one (a key of
    control characters, six JSON characters each), and a 1024-byte key of letters fits."""
    with pytest.raises(LinkError, match=f"is {links.TOKEN_CHARS_MAX + 1} characters; a link has at most 4096"):
        links.verify("r" * (links.TOKEN_CHARS_MAX + 1), LINK_KEY)
    long_plain = links.encode(_grant(key="k" * links.KEY_BYTES_MAX), LINK_KEY)
    assert len(long_plain) <= links.TOKEN_CHARS_MAX
    with pytest.raises(ValueError, match="would be [0-9]+ characters, over the 4096"):
        links.encode(_grant(key="\x01" * links.KEY_BYTES_MAX), LINK_KEY)
    with pytest.raises(ValueError, match="1 to 1024 UTF-8 bytes"):
        _grant(key="k" * (links.KEY_BYTES_MAX + 1))


@pytest.mark.parametrize("payload, why", [
    (b"not json", "not valid"),
    (b"\xff\xfe", "not valid"),
    ([1, 2], "not a JSON object"),
    ({**_grant().to_payload(), "x": 1}, "unknown fields x"),
    ({k: v for k, v in _grant().to_payload().items() if k != "e"}, "lacks fields e"),
    ({**_grant().to_payload(), "e": str(NOW_MS)}, "field e has the wrong type"),
    ({**_grant().to_payload(), "bc": True}, "field bc has the wrong type"),
    ({**_grant().to_payload(), "r": [0, 0]}, "not \\[start_bytes, length_bytes\\]"),
    ({**_grant().to_payload(), "r": [5]}, "not \\[start_bytes, length_bytes\\]"),
    ({**_grant().to_payload(), "r": [-1, 5]}, "must be a whole number"),
    ({**_grant().to_payload(), "e": NOW_MS - 1}, "must expire after it was made"),
    ({**_grant().to_payload(), "i": "RKABCDEFGHIJKLMNOPQR"}, "is not RL and 18"),
    ({**_grant().to_payload(), "b": "Bad_Bucket"}, "is not a bucket name"),
    ({**_grant().to_payload(), "k": ""}, "1 to 1024 UTF-8 bytes"),
    ({**_grant().to_payload(), "c": 2**60}, "must be a whole number"),
])
def test_a_correctly_signed_payload_is_still_parsed_strictly(payload, why):
    with pytest.raises(LinkError, match=why) as info:
        links.verify(_forge(payload), LINK_KEY)
    assert info.value.reason == "link_malformed" and "\n" not in str(info.value)


def test_duplicate_fields_and_floats_are_refused():
    body = json.dumps(_grant().to_payload())
    for raw in (body[:-1] + ', "k": "other"}', body.replace(f'"c": {NOW_MS}', f'"c": {NOW_MS}.0'),
                body.replace(f'"c": {NOW_MS}', '"c": NaN')):
        with pytest.raises(LinkError, match="payload is not valid"):
            links.verify(_forge(raw.encode()), LINK_KEY)


def test_range_text_and_expiry_message():
    assert _grant().range_text == "whole object"
    assert _grant(range_start_bytes=100, range_length_bytes=100).range_text == "bytes 100-199"
    assert _grant(range_start_bytes=100).range_text == "bytes 100-"
    grant = _grant()
    assert not grant.expired(grant.expires_at_unix_ms - 1) and grant.expired(grant.expires_at_unix_ms)
    message = grant.expired_message(grant.expires_at_unix_ms + 125_000)
    assert message.startswith("share link RLABCDEFGHIJKLMNOPQR expired at 2026-09-21 15:13:20 UTC (2 min 5 s ago)")


def test_link_ids_have_the_documented_shape_and_differ():
    made = {links.new_link_id() for _ in range(200)}
    assert len(made) == 200 and all(links.is_link_id(i) and len(i) == 20 for i in made)
    assert not links.is_link_id("RKABCDEFGHIJKLMNOPQR") and not links.is_link_id("RLABCDEFGHIJKLMNOPQR\n")


# --- the node's record ------------------------------------------------------------------------

def _key(**changes) -> AccessKey:
    fields = dict(key_id="RKABCDEFGHIJKLMNOPQR", tenant="acme", sealed_secret=b"x" * 40,
                  created_at_unix_ms=NOW_MS - 1000)
    fields.update(changes)
    return AccessKey(**fields)


def test_the_record_round_trips_and_is_read_strictly():
    record = ShareLink(grant=_grant(range_start_bytes=1, range_length_bytes=2), revoked_at_unix_ms=NOW_MS + 5)
    assert ShareLink.from_json(record.to_json()) == record
    raw = json.loads(record.to_json())
    for bad in ({**raw, "extra": 1}, {**raw, "format": 2}, {**raw, "revoked_at_unix_ms": -1}, [raw]):
        with pytest.raises(ValueError):
            ShareLink.from_json(json.dumps(bad).encode())


def test_a_links_state_names_what_stops_it_revocation_first():
    record = ShareLink(grant=_grant())
    active = NOW_MS + 1000
    assert state(record, _key(), active) == "active"
    assert state(ShareLink(grant=_grant(), revoked_at_unix_ms=NOW_MS), _key(), NOW_MS + 10**9) == "revoked"
    assert state(record, _key(), NOW_MS + 3_600_000) == "expired"
    assert state(record, None, active) == "grantor-unknown"
    assert state(record, _key(revoked_at_unix_ms=NOW_MS), active) == "grantor-revoked"
    assert state(record, _key(expires_at_unix_ms=NOW_MS), active) == "grantor-expired"
    assert state(record, _key(), active, bucket_created_at_unix_ms=None) == "bucket-removed"
    assert state(record, _key(), active, bucket_created_at_unix_ms=NOW_MS + 7) == "bucket-removed"
    assert state(record, _key(), active, bucket_created_at_unix_ms=NOW_MS - 86_400_000) == "active"


def test_link_limits_relate_to_the_others():
    """A token of the longest key fits the token limit; the limit leaves room in gRPC's default
    8 KiB of metadata (the call carries the header name and gRPC's own headers too); the key
    limit is the object key limit of node and client; a link lives no longer than a key may."""
    from node.objects.validate import KEY_LENGTH_BYTES_MAX as NODE_KEY_BYTES_MAX
    from nodectl.client.limits import KEY_LENGTH_BYTES_MAX as CLIENT_KEY_BYTES_MAX
    from ringstore.auth.keys import DURATION_S_MAX

    assert links.KEY_BYTES_MAX == NODE_KEY_BYTES_MAX == CLIENT_KEY_BYTES_MAX
    longest = links.encode(_grant(key="é" * (links.KEY_BYTES_MAX // 2), range_start_bytes=links.NUMBER_MAX - 1,
                                  range_length_bytes=1, expires_at_unix_ms=links.NUMBER_MAX), LINK_KEY)
    assert len(longest) <= links.TOKEN_CHARS_MAX
    grpc_metadata_bytes_default = 8192
    assert links.TOKEN_CHARS_MAX + len(links.HEADER_LINK) + 1024 <= grpc_metadata_bytes_default
    assert links.EXPIRES_IN_S_DEFAULT <= links.EXPIRES_IN_S_MAX <= DURATION_S_MAX
