"""Access keys (ringstore/auth/keys.py): key ids and secrets, secrets sealed under the cluster key
(AES-256-GCM under an HKDF subkey, the key id as associated data), the strict JSON record, key
states, tenant names and `--expires-in` durations."""

from __future__ import annotations

import base64
import json
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ringstore.auth import keys
from ringstore.auth.keys import AccessKey, SealedSecretError, SecretBox

CLUSTER_KEY = b"0123456789abcdef-cluster-key"
OTHER_CLUSTER_KEY = b"fedcba9876543210-cluster-key"
KEY_ID = "RKABCDEFGHIJKLMNOPQR"
OTHER_KEY_ID = "RK234567ABCDEFGHIJKL"
SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-abcd"
NOW_MS = 1_790_000_000_000


def _record(box: SecretBox | None = None, **changes) -> AccessKey:
    box = box or SecretBox(CLUSTER_KEY)
    fields = dict(key_id=KEY_ID, tenant="acme", sealed_secret=box.seal(KEY_ID, SECRET), created_at_unix_ms=NOW_MS)
    fields.update(changes)
    return AccessKey(**fields)


def _hkdf(cluster_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=keys.HKDF_SALT, info=info).derive(cluster_key)


# --- ids and secrets ---------------------------------------------------------------------------

def test_new_access_keys_have_the_documented_shape_and_differ():
    """A key id is RK + 18 base32 characters, a secret 40 URL-safe characters; two keys differ."""
    pairs = {keys.new_access_key() for _ in range(50)}
    assert len(pairs) == 50 and len({key_id for key_id, _ in pairs}) == 50
    for key_id, secret in pairs:
        assert keys.KEY_ID_RE.fullmatch(key_id) and key_id.startswith("RK") and len(key_id) == keys.KEY_ID_CHARS == 20
        assert re.fullmatch(r"[A-Za-z0-9_-]{40}", secret) and len(secret) == keys.SECRET_CHARS


@pytest.mark.parametrize("text", ["rkabcdefghijklmnopqr", "RKABCDEFGHIJKLMNOPQ", "RKABCDEFGHIJKLMNOPQRS",
                                  "RKABCDEFGHIJKLMNOP01", "AKABCDEFGHIJKLMNOPQR", "RKABCDEFGHIJKLMNOPQR\n", "", 20])
def test_a_key_id_of_another_shape_is_refused(text):
    """Lower case, a character off either way, 0/1 (not base32), another prefix, a trailing newline."""
    assert not keys.is_key_id(text)
    with pytest.raises(ValueError, match=r"is not valid: a key id is RK and 18 characters from A-Z and 2-7"):
        keys.check_key_id(text)


# --- sealing -----------------------------------------------------------------------------------

def test_a_sealed_secret_opens_to_the_secret_and_has_the_documented_layout():
    """Version byte 1, a 12-byte nonce, ciphertext and a 16-byte tag; opens to the plaintext."""
    box = SecretBox(CLUSTER_KEY)
    sealed = box.seal(KEY_ID, SECRET)
    assert sealed[0] == keys.SEALED_VERSION == 1
    assert len(sealed) == 1 + 12 + len(SECRET) + 16
    assert SECRET.encode() not in sealed
    assert box.open(KEY_ID, sealed) == SECRET
    assert SecretBox(bytearray(CLUSTER_KEY)).open(KEY_ID, sealed) == SECRET, "a box made again opens it"


def test_the_seal_is_aes_gcm_under_the_hkdf_subkey_with_the_key_id_as_associated_data():
    """Pins the format: another implementation with the documented salt and info opens it."""
    sealed = SecretBox(CLUSTER_KEY).seal(KEY_ID, SECRET)
    aead = AESGCM(_hkdf(CLUSTER_KEY, b"ringstore access-key secrets v1"))
    assert aead.decrypt(sealed[1:13], sealed[13:], KEY_ID.encode()).decode() == SECRET


def test_two_seals_of_one_secret_use_different_nonces():
    box = SecretBox(CLUSTER_KEY)
    first, second = box.seal(KEY_ID, SECRET), box.seal(KEY_ID, SECRET)
    assert first[1:13] != second[1:13] and first != second
    assert box.open(KEY_ID, first) == box.open(KEY_ID, second) == SECRET


def test_another_cluster_key_cannot_open_a_sealed_secret_and_says_so_in_one_line():
    sealed = SecretBox(CLUSTER_KEY).seal(KEY_ID, SECRET)
    with pytest.raises(SealedSecretError) as caught:
        SecretBox(OTHER_CLUSTER_KEY).open(KEY_ID, sealed)
    message = str(caught.value)
    assert "\n" not in message and KEY_ID in message
    assert "cluster key" in message and "--cluster-secret-file" in message and "moved or corrupted" in message
    assert isinstance(caught.value, ValueError)


def test_a_sealed_secret_moved_to_another_key_id_does_not_open():
    """The key id is associated data: copying a sealed secret into another record fails."""
    box = SecretBox(CLUSTER_KEY)
    with pytest.raises(SealedSecretError, match=f"cannot open the secret of access key {OTHER_KEY_ID}"):
        box.open(OTHER_KEY_ID, box.seal(KEY_ID, SECRET))


@pytest.mark.parametrize("damage, expected", [
    (lambda s: s[:-1] + bytes([s[-1] ^ 1]), "moved or corrupted"),
    (lambda s: s[:20] + bytes([s[20] ^ 0x80]) + s[21:], "moved or corrupted"),
    (lambda s: s[:10], "truncated"),
    (lambda s: b"\x02" + s[1:], "has format 2, this node reads 1: upgrade this node"),
])
def test_a_damaged_sealed_secret_is_refused(damage, expected):
    box = SecretBox(CLUSTER_KEY)
    with pytest.raises(SealedSecretError, match=expected):
        box.open(KEY_ID, damage(box.seal(KEY_ID, SECRET)))


def test_a_cluster_key_shorter_than_16_bytes_is_refused():
    with pytest.raises(ValueError, match=r"at least 16 bytes \(--cluster-secret-file\)"):
        SecretBox(b"x" * 15)
    SecretBox(b"x" * 16)


def test_seal_refuses_a_bad_key_id_or_an_empty_secret():
    box = SecretBox(CLUSTER_KEY)
    with pytest.raises(ValueError, match="key id"):
        box.seal("not-a-key", SECRET)
    with pytest.raises(ValueError, match="secret"):
        box.seal(KEY_ID, "")


def test_the_link_key_is_its_own_hkdf_subkey():
    """32 bytes, the same for the same cluster key, different for another, and not the secrets
    subkey (distinct purposes get distinct keys)."""
    link_key = SecretBox(CLUSTER_KEY).link_key()
    assert len(link_key) == 32
    assert link_key == SecretBox(CLUSTER_KEY).link_key() == _hkdf(CLUSTER_KEY, b"ringstore share links v1")
    assert link_key != SecretBox(OTHER_CLUSTER_KEY).link_key()
    assert link_key != _hkdf(CLUSTER_KEY, keys.SECRETS_INFO) and CLUSTER_KEY not in link_key


def test_a_secret_box_repr_shows_no_key():
    box = SecretBox(CLUSTER_KEY)
    assert "0123456789" not in repr(box) and box.link_key().hex() not in repr(box)


# --- the record --------------------------------------------------------------------------------

def test_a_record_survives_a_json_round_trip_with_every_field_set():
    record = _record(expires_at_unix_ms=NOW_MS + 3600_000, revoked_at_unix_ms=NOW_MS + 60_000, read_only=True,
                     bucket="photos", prefix="2026/ü/", role="operator", description="backup job")
    data = record.to_json()
    assert AccessKey.from_json(data) == record
    fields = json.loads(data)
    assert fields["format"] == keys.RECORD_FORMAT
    assert base64.b64decode(fields["sealed_secret"]) == record.sealed_secret


def test_neither_the_repr_nor_the_json_shows_the_secret_and_the_repr_hides_the_sealed_bytes():
    record = _record()
    for text in (repr(record), str(record), record.to_json().decode(), repr(keys.dataclasses.asdict(record))):
        assert SECRET not in text
    sealed_b64 = base64.b64encode(record.sealed_secret).decode()
    assert "sealed_secret" not in repr(record) and sealed_b64 not in repr(record)
    assert repr(record.sealed_secret)[2:20] not in repr(record)


_DROP = object()


def _json_with(**changes) -> bytes:
    fields = json.loads(_record().to_json())
    for name, value in changes.items():
        if value is _DROP:
            del fields[name]
        else:
            fields[name] = value
    return json.dumps(fields).encode()


@pytest.mark.parametrize("data, expected", [
    (_json_with(owner="mallory"), "unknown fields owner"),
    (_json_with(tenant=_DROP), "lacks fields tenant"),
    (_json_with(format=2), "format other than 1"),
    (_json_with(created_at_unix_ms="1790000000000"), "created_at_unix_ms must be a JSON integer, not string"),
    (_json_with(created_at_unix_ms=1.5), "must be a JSON integer, not number"),
    (_json_with(expires_at_unix_ms=True), "expires_at_unix_ms must be a JSON integer, not boolean"),
    (_json_with(read_only=1), "read_only must be a JSON boolean, not integer"),
    (_json_with(bucket=None), "bucket must be a JSON string, not null"),
    (_json_with(sealed_secret="not base64!"), "sealed_secret is not valid base64"),
    (_json_with(role="root"), "role must be one of tenant, operator"),
    (_json_with(tenant="Acme"), "tenant name 'Acme' is not valid"),
    (_json_with(key_id="AK1"), "access key id 'AK1' is not valid"),
    (_json_with(created_at_unix_ms=-1), "created_at_unix_ms must be a whole number of milliseconds >= 0"),
    (_json_with(expires_at_unix_ms=NOW_MS - 1), "expires_at_unix_ms must be after created_at_unix_ms"),
    (_json_with(description="x" * 257), "description must be text of at most 256 characters"),
    (b'{"key_id": "RKABCDEFGHIJKLMNOPQR", "key_id": "RKABCDEFGHIJKLMNOPQR"}', "a field appears twice"),
    (b'{"created_at_unix_ms": NaN}', "NaN is not a number"),
    (b"[1, 2]", "not a JSON object"),
    (b"\xff{", "not valid JSON"),
    (b"", "not valid JSON"),
])
def test_from_json_refuses_anything_but_a_complete_well_typed_record(data, expected):
    """Unknown and missing fields, wrong types (JSON true is not an integer), bad base64, another
    format, bad values, duplicate fields, not an object, not JSON: each a one-line ValueError."""
    with pytest.raises(ValueError, match=re.escape(expected)) as caught:
        AccessKey.from_json(data)
    assert "\n" not in str(caught.value)


def test_key_states_active_expired_and_revoked():
    """Expired from the expiry instant on; revoked whatever the times, and revocation wins over expiry."""
    record = _record(expires_at_unix_ms=NOW_MS + 1000)
    assert record.state(NOW_MS) == "active"
    assert record.state(NOW_MS + 999) == "active"
    assert record.state(NOW_MS + 1000) == "expired"
    assert _record().state(NOW_MS + 10**12) == "active", "0 never expires"
    revoked = keys.dataclasses.replace(record, revoked_at_unix_ms=NOW_MS + 500)
    assert revoked.state(NOW_MS) == "revoked", "a revocation stamped ahead of this clock is in force now"
    assert revoked.state(NOW_MS + 5000) == "revoked"
    assert revoked.revoked_at_text == "2026-09-21 14:13:20 UTC" and record.expires_at_text.endswith(" UTC")
    assert _record().expires_at_text == "never"


# --- tenant names and durations ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["ab", "acme", "a1-b2", "0tenant", "x" * 63])
def test_valid_tenant_names(name):
    assert keys.check_tenant_name(name) == name


@pytest.mark.parametrize("name", ["a", "x" * 64, "Acme", "-acme", "ac_me", "ac me", "acme\n", "", "ümlaut", None])
def test_invalid_tenant_names_are_refused_in_one_line(name):
    with pytest.raises(ValueError, match=r"is not valid: use 2 to 63 characters from a-z, 0-9 and '-'") as caught:
        keys.check_tenant_name(name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text, seconds", [("90s", 90.0), ("15m", 900.0), ("12h", 43200.0), ("7d", 604800.0),
                                           ("2w", 1209600.0), (" 1h ", 3600.0), ("3650d", 10 * 365 * 86400.0)])
def test_durations_in_each_unit(text, seconds):
    assert keys.parse_duration(text) == seconds


@pytest.mark.parametrize("text, expected", [
    ("5y", "write a whole number and one unit of s, m, h, d or w"),
    ("1.5h", "write a whole number"), ("-1h", "write a whole number"), ("h", "write a whole number"),
    ("10", "write a whole number"), ("", "write a whole number"), ("7 d", "write a whole number"),
    ("7D", "write a whole number"), ("1" * 13 + "s", "write a whole number"),
    ("0s", "must be longer than zero"),
    ("3651d", "longer than the 10 years allowed"), ("522w", "longer than the 10 years allowed"),
])
def test_bad_or_unbounded_durations_are_refused_in_one_line(text, expected):
    with pytest.raises(ValueError, match=re.escape(expected)) as caught:
        keys.parse_duration(text)
    assert "\n" not in str(caught.value)
