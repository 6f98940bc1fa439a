"""Request signatures (ringstore/auth/signing.py): what `sign` puts in a call's metadata, that
`verify` accepts exactly that call and refuses every other with its reason label, the shared message
for an unknown key and a bad signature, the replay window both ways, and resource escaping."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re

import pytest

from ringstore.auth import signing
from ringstore.auth.keys import AccessKey, SecretBox
from ringstore.auth.signing import AuthError

KEY_ID = "RKABCDEFGHIJKLMNOPQR"
UNKNOWN_KEY_ID = "RKZZZZZZZZZZZZZZZZZZ"
SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-abcd"
METHOD = "/ringstore.v1.ObjectService/GetObject"
NOW_MS = 1_790_000_000_000
RESOURCE = signing.resource("photos", "2026/cat.jpg")


def _record(**changes) -> AccessKey:
    fields = dict(key_id=KEY_ID, tenant="acme", sealed_secret=SecretBox(b"k" * 32).seal(KEY_ID, SECRET),
                  created_at_unix_ms=NOW_MS - 86400_000, role="tenant", bucket="photos")
    fields.update(changes)
    return AccessKey(**fields)


def _lookup(record: AccessKey | None = None, secret: str = SECRET):
    record = record or _record()
    calls: list[str] = []

    def lookup(key_id: str):
        calls.append(key_id)
        return (record, secret) if key_id == record.key_id else None

    lookup.calls = calls  # type: ignore[attr-defined]
    return lookup


def _signed(**changes) -> dict[str, str]:
    args = dict(key_id=KEY_ID, secret=SECRET, method=METHOD, resource=RESOURCE, now_ms=NOW_MS)
    args.update(changes)
    return dict(signing.sign(**args))


def _refused(metadata, *, method=METHOD, resource=RESOURCE, lookup=None, now_ms=NOW_MS) -> AuthError:
    with pytest.raises(AuthError) as caught:
        signing.verify(metadata, method, resource, lookup or _lookup(), now_ms=now_ms)
    assert "\n" not in caught.value.message and caught.value.reason in signing.REASONS
    return caught.value


def test_a_signed_call_verifies_and_returns_the_key_record():
    """The round trip: verify hands back the record, so the caller reads tenant, role and scopes."""
    record = _record(read_only=True, prefix="2026/")
    verified = signing.verify(_signed(), METHOD, RESOURCE, _lookup(record), now_ms=NOW_MS + 1234)
    assert verified == signing.Verified(access_key=record)
    assert (verified.tenant, verified.role, verified.key_id) == ("acme", "tenant", KEY_ID)
    assert verified.access_key.read_only and verified.access_key.prefix == "2026/"


def test_sign_gives_three_headers_and_the_documented_hmac():
    """Key id, date and hex HMAC-SHA256 under HMAC(secret, "ringstore-signing-v1") of the
    canonical string, computed here independently; the raw secret keys nothing on the wire."""
    pairs = signing.sign(KEY_ID, SECRET, METHOD, RESOURCE, now_ms=NOW_MS)
    assert [name for name, _ in pairs] == ["x-ringstore-key-id", "x-ringstore-date-ms", "x-ringstore-signature"]
    metadata = dict(pairs)
    assert metadata["x-ringstore-key-id"] == KEY_ID and metadata["x-ringstore-date-ms"] == str(NOW_MS)
    signing_key = hmac.new(SECRET.encode(), b"ringstore-signing-v1", hashlib.sha256).digest()
    canonical = f"RINGSTORE-HMAC-SHA256\n{METHOD}\nphotos/2026/cat.jpg\n{NOW_MS}".encode()
    assert metadata["x-ringstore-signature"] == hmac.new(signing_key, canonical, hashlib.sha256).hexdigest()
    assert metadata["x-ringstore-signature"] != hmac.new(SECRET.encode(), canonical, hashlib.sha256).hexdigest()
    assert SECRET not in repr(pairs)


def test_a_cluster_wide_call_signs_the_empty_resource():
    metadata = _signed(method="/ringstore.v1.AdminService/ClusterStatus", resource=signing.resource())
    signing.verify(metadata, "/ringstore.v1.AdminService/ClusterStatus", "", _lookup(), now_ms=NOW_MS)


def test_sign_refuses_a_bad_key_id_method_or_secret():
    with pytest.raises(ValueError, match="access key id"):
        _signed(key_id="rk-nope")
    with pytest.raises(ValueError, match="full gRPC method path"):
        _signed(method="GetObject")
    with pytest.raises(ValueError, match="secret"):
        _signed(secret="")
    with pytest.raises(ValueError, match="newline"):
        _signed(resource="a\nb")


# --- each failure and its reason ---------------------------------------------------------------

def test_no_credentials_at_all_is_missing_and_says_how_to_give_them():
    err = _refused({})
    assert err.reason == "missing"
    assert "needs an access key" in err.message and "RINGSTORE_ACCESS_KEY_ID" in err.message


@pytest.mark.parametrize("dropped", signing.HEADERS)
def test_a_missing_header_is_missing_and_named(dropped):
    metadata = _signed()
    del metadata[dropped]
    err = _refused(metadata)
    assert err.reason == "missing" and f"lacks the {dropped} header" in err.message


@pytest.mark.parametrize("header, value, expected", [
    ("x-ringstore-date-ms", "yesterday", "x-ringstore-date-ms header is not a whole number of milliseconds"),
    ("x-ringstore-date-ms", "", "x-ringstore-date-ms header is not a whole number"),
    ("x-ringstore-date-ms", "-5", "x-ringstore-date-ms header is not a whole number"),
    ("x-ringstore-date-ms", "1" * 16, "x-ringstore-date-ms header is not a whole number"),
    ("x-ringstore-date-ms", f"{NOW_MS}\n", "x-ringstore-date-ms header is not a whole number"),
    ("x-ringstore-key-id", "AKIAEXAMPLE", "x-ringstore-key-id header is not an access key id"),
    ("x-ringstore-signature", "ABCDEF" * 10 + "ABCD", "x-ringstore-signature header is not 64 lowercase hex"),
    ("x-ringstore-signature", "ab" * 31, "x-ringstore-signature header is not 64 lowercase hex"),
    ("x-ringstore-signature", "é" * 64, "x-ringstore-signature header is not 64 lowercase hex"),
])
def test_a_malformed_header_is_malformed(header, value, expected):
    metadata = _signed()
    metadata[header] = value
    lookup = _lookup()
    err = _refused(metadata, lookup=lookup)
    assert err.reason == "malformed" and expected in err.message
    assert lookup.calls == [], "nothing malformed reaches the key lookup"


def test_an_unknown_key_and_a_wrong_secret_share_one_message_but_not_the_reason():
    """A caller cannot tell which key ids exist; the metric can."""
    unknown = _refused(_signed(key_id=UNKNOWN_KEY_ID))
    wrong = _refused(_signed(secret="not-the-secret"))
    assert (unknown.reason, wrong.reason) == ("unknown_key", "bad_signature")
    assert unknown.message == wrong.message == "the signature does not match: check the access key id and secret"


@pytest.mark.parametrize("method, resource", [
    ("/ringstore.v1.ObjectService/DeleteObject", RESOURCE),
    (METHOD, signing.resource("photos", "2026/dog.jpg")),
    (METHOD, signing.resource("photos")),
    (METHOD, signing.resource("videos", "2026/cat.jpg")),
])
def test_a_signature_does_not_verify_for_another_method_or_resource(method, resource):
    """A header made for one GET neither deletes that object nor reads another one."""
    err = _refused(_signed(), method=method, resource=resource)
    assert err.reason == "bad_signature"


def test_a_signature_with_a_changed_date_does_not_verify():
    metadata = _signed()
    metadata["x-ringstore-date-ms"] = str(NOW_MS + 1)
    assert _refused(metadata).reason == "bad_signature"


@pytest.mark.parametrize("offset_ms, direction", [(300_001, "ahead of"), (-300_001, "behind"),
                                                  (3_600_000, "ahead of"), (-86_400_000, "behind")])
def test_a_date_past_the_window_either_way_is_clock_skew_naming_the_skew(offset_ms, direction):
    """Checked before the lookup; the message gives the skew in seconds and the window."""
    lookup = _lookup()
    err = _refused(_signed(now_ms=NOW_MS + offset_ms), lookup=lookup)
    assert err.reason == "clock_skew"
    assert f"dated {abs(offset_ms) / 1000:.1f} s {direction} this node's clock" in err.message
    assert "beyond the 300 s allowed" in err.message
    assert lookup.calls == []


@pytest.mark.parametrize("offset_ms", [300_000, -300_000, 0])
def test_a_date_at_the_edge_of_the_window_verifies(offset_ms):
    assert signing.SIGNATURE_WINDOW_S == 300.0
    signing.verify(_signed(now_ms=NOW_MS + offset_ms), METHOD, RESOURCE, _lookup(), now_ms=NOW_MS)


def test_an_expired_key_is_expired_key_saying_when():
    record = _record(expires_at_unix_ms=NOW_MS - 1000)
    err = _refused(_signed(), lookup=_lookup(record))
    assert err.reason == "expired_key"
    assert re.search(rf"access key {KEY_ID} expired at 2026-09-21 14:13:19 UTC", err.message)


def test_a_revoked_key_is_revoked_key_saying_when():
    record = _record(revoked_at_unix_ms=NOW_MS - 60_000)
    err = _refused(_signed(), lookup=_lookup(record))
    assert err.reason == "revoked_key" and f"access key {KEY_ID} was revoked at 2026-09-21 14:12:20 UTC" in err.message


def test_a_revoked_or_expired_key_with_a_wrong_signature_is_only_a_bad_signature():
    """Only someone who knows the secret learns that the key is revoked or expired."""
    for record in (_record(revoked_at_unix_ms=NOW_MS - 1), _record(expires_at_unix_ms=NOW_MS - 1)):
        err = _refused(_signed(secret="guess"), lookup=_lookup(record))
        assert err.reason == "bad_signature" and err.message == signing.NO_MATCH_MESSAGE


def test_the_reason_labels_are_the_documented_ones():
    assert signing.REASONS == ("missing", "malformed", "unknown_key", "bad_signature", "expired_key", "revoked_key",
                               "clock_skew")
    with pytest.raises(AssertionError):
        AuthError("other", "an unlisted reason is a bug")


def test_verify_reads_the_clock_when_not_given_one():
    """Signing and verifying without now_ms uses the wall clock on both sides."""
    metadata = dict(signing.sign(KEY_ID, SECRET, METHOD, RESOURCE))
    assert signing.verify(metadata, METHOD, RESOURCE, _lookup()).key_id == KEY_ID


def test_the_verified_record_is_frozen():
    verified = signing.verify(_signed(), METHOD, RESOURCE, _lookup(), now_ms=NOW_MS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verified.access_key = _record(tenant="other")  # type: ignore[misc]


# --- resources ---------------------------------------------------------------------------------

def test_resource_escaping_keeps_bucket_and_key_apart():
    assert signing.resource("a/b", "c") != signing.resource("a", "b/c")
    assert (signing.resource("a/b", "c"), signing.resource("a", "b/c")) == ("a%2Fb/c", "a/b/c")
    assert signing.resource("photos") == "photos" and signing.resource() == ""


def test_distinct_bucket_and_key_pairs_give_distinct_resources():
    """'%' is escaped too, so an escape written literally is not the character it stands for."""
    parts = ["a", "a/", "/a", "a/b", "b", "b/c", "%2F", "%", "%25", "", "a b", "a\nb", "ü", "%C3%BC", "a//b"]
    pairs = {(bucket, key) for bucket in parts if bucket for key in parts}
    texts = {signing.resource(bucket, key): (bucket, key) for bucket, key in pairs}
    assert len(texts) == len(pairs)
    assert all("\n" not in text for text in texts)


def test_a_key_without_a_bucket_is_refused():
    with pytest.raises(ValueError, match="needs its bucket"):
        signing.resource("", "key")
