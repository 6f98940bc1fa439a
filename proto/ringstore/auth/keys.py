"""Access keys: their ids and secrets, the secrets sealed at rest under the cluster key, the record
the cluster keeps for each key, tenant names and the durations `--expires-in` takes.

**Ids and secrets.** A key id is `RK` and 18 characters of the base32 alphabet (A-Z, 2-7) drawn
with `secrets`, like AWS's `AKIA...`: 90 random bits, so ids never collide in practice. Ids are not
secret: they are printed, logged and listed (never used as metric labels, which must stay bounded).
The secret is `secrets.token_urlsafe(30)`: 240 random bits in 40 characters that survive a shell, an
INI file and an HTTP header unquoted. It is shown once, when the key is created; the cluster keeps
it only sealed.

**Why secrets are encrypted, not hashed.** A password store would keep a slow hash. Access keys
cannot: the node checks a request's HMAC by computing it with the secret, and the S3 gateway (a
later issue) must compute AWS SigV4 HMACs with the secret itself. So the secret is kept encrypted
under the cluster key (the `--cluster-secret-file` every node shares), and a copy of the metadata
alone (a disk, a backup, a peer's `GetManifest` answer) does not reveal any secret.

**Subkeys per purpose.** The cluster key is never used directly. HKDF-SHA256 (RFC 5869) derives one
32-byte subkey per purpose, each with its own `info` label: AES-256-GCM for sealed secrets
(`SECRETS_INFO`), HMAC-SHA256 for share links (`LINK_INFO`, `SecretBox.link_key`) and for chunk
read grants (`READ_GRANT_INFO`, `SecretBox.read_grant_key`) and for direct puts' write grants,
receipts and put tokens (`WRITE_GRANT_INFO`, `SecretBox.write_grant_key`). Distinct subkeys
mean no output of one use can be taken for an output of another (a share-link MAC is never a valid
ciphertext tag, and the same key is never fed to two algorithms), a subkey that leaks (say, the link
key in a debug dump) reveals neither the cluster key nor the other subkeys, and one purpose can move
to a new version (a new `info`) without touching the other. HKDF's extract step also turns a cluster
key that is only "at least 16 bytes of a file" into a uniform key. Rejected: SHA-256 of the cluster
key (one key for every purpose); Fernet (AES-CBC plus HMAC, but no associated data, so a sealed
secret could be moved to another key's record unnoticed).

**Sealed format.** `SEALED_VERSION` (one byte) + a random 12-byte nonce + AES-GCM ciphertext with
its 16-byte tag; the key id is the associated data, so a sealed secret copied into another key's
record fails to open instead of lending that record its secret. Random 96-bit nonces stay safe for
about 2**32 seals under one key (NIST SP 800-38D); a cluster seals one per key created. The version
byte leaves room for a later format (a cluster-key generation for rotation, say); today a record of
another version is refused.

**The record.** `AccessKey` is what the cluster's replicated metadata will hold per key: tenant,
sealed secret, times, scopes (read-only, one bucket, one prefix) and role. `to_json`/`from_json` are
strict (every field present, no unknown field, types checked, a format version) because a record is
written by one node version and read by others. No record, repr or JSON ever carries a plaintext
secret, and the repr does not show the sealed bytes either (they are noise in a log line and give a
reader of the log something to try a stolen cluster key on).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import re
import secrets
from typing import Any

# `cryptography` is imported by the node-side code that seals and derives keys, not here: clients
# import this module for the key id and secret rules alone (ringstore.auth.credentials), and the
# library costs each of them megabytes of memory and tens of milliseconds of start-up.

KEY_ID_PREFIX = "RK"
# Random characters after the prefix: base32 (5 bits each), so 90 random bits.
KEY_ID_RANDOM_CHARS = 18
KEY_ID_CHARS = len(KEY_ID_PREFIX) + KEY_ID_RANDOM_CHARS
KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32
# Check with `fullmatch`: `$` alone also matches before a trailing newline.
KEY_ID_RE = re.compile(rf"^{KEY_ID_PREFIX}[A-Z2-7]{{{KEY_ID_RANDOM_CHARS}}}$")
# token_urlsafe(n) gives ceil(4n/3) characters: 30 random bytes (240 bits) are 40 characters.
SECRET_RANDOM_BYTES = 30
SECRET_CHARS = 40

# The cluster key (--cluster-secret-file) must be at least this long; node/config.py checks the same.
CLUSTER_KEY_BYTES_MIN = 16
# HKDF salt: fixed, public, distinct from any other use of HKDF on this key. A per-cluster random salt
# would be one more file every node must share, for no gain with a key that is already secret.
HKDF_SALT = b"ringstore cluster key v1"
SECRETS_INFO = b"ringstore access-key secrets v1"
LINK_INFO = b"ringstore share links v1"
READ_GRANT_INFO = b"ringstore chunk read grants v1"
WRITE_GRANT_INFO = b"ringstore direct put grants v1"
SUBKEY_BYTES = 32  # AES-256 and HMAC-SHA256 keys
SEALED_VERSION = 1
NONCE_BYTES = 12  # AES-GCM's standard nonce
TAG_BYTES = 16
# Longest secret `seal` takes, in UTF-8 bytes (ours are 40), and so the longest sealed secret a record
# may carry.
SECRET_BYTES_MAX = 256
SEALED_SECRET_BYTES_MAX = 1 + NONCE_BYTES + SECRET_BYTES_MAX + TAG_BYTES

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ROLE_TENANT = "tenant"
ROLE_OPERATOR = "operator"
ROLES = (ROLE_TENANT, ROLE_OPERATOR)
# Longest scope strings and description a record may carry, in characters. A bucket name is at
# most 63; a prefix at most an object key (1024 UTF-8 bytes, node/objects/validate.py).
BUCKET_CHARS_MAX = 63
PREFIX_CHARS_MAX = 1024
DESCRIPTION_CHARS_MAX = 256
RECORD_FORMAT = 1

DURATION_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
# The longest `--expires-in`: ten years of 365 days. Longer is "never", which is the default.
DURATION_S_MAX = 10 * 365 * 86400.0
_DURATION_RE = re.compile(r"^([0-9]{1,12})([smhdw])$")


def new_access_key() -> tuple[str, str]:
    """A fresh (key id, secret) pair from the operating system's CSPRNG."""
    key_id = KEY_ID_PREFIX + "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_RANDOM_CHARS))
    secret = secrets.token_urlsafe(SECRET_RANDOM_BYTES)
    assert KEY_ID_RE.fullmatch(key_id) and len(secret) == SECRET_CHARS
    return key_id, secret


def is_key_id(text: object) -> bool:
    return isinstance(text, str) and KEY_ID_RE.fullmatch(text) is not None


def check_key_id(text: object) -> str:
    if not is_key_id(text):
        shown = repr(text)[:40]
        raise ValueError(f"access key id {shown} is not valid: a key id is {KEY_ID_PREFIX} and "
                         f"{KEY_ID_RANDOM_CHARS} characters from A-Z and 2-7")
    return text  # type: ignore[return-value]


def check_tenant_name(name: object) -> str:
    """`name` when it is a valid tenant name, else ValueError with a one-line message."""
    if not isinstance(name, str) or TENANT_RE.fullmatch(name) is None:
        shown = repr(name)[:70]
        raise ValueError(f"tenant name {shown} is not valid: use 2 to 63 characters from a-z, 0-9 and '-', "
                         "starting with a letter or digit")
    return name


def parse_duration(text: str) -> float:
    """Seconds in "90s", "15m", "12h", "7d" or "2w": a whole positive number and one unit, at most
    ten years. ValueError with a one-line message otherwise."""
    match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"duration {str(text)[:40]!r} is not valid: write a whole number and one unit of s, m, "
                         "h, d or w, e.g. 90s, 15m, 12h, 7d or 2w")
    seconds = int(match.group(1)) * DURATION_UNITS_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration {text.strip()!r} is not valid: it must be longer than zero")
    if seconds > DURATION_S_MAX:
        raise ValueError(f"duration {text.strip()!r} is longer than the {DURATION_S_MAX / 86400 / 365:.0f} years "
                         "allowed; leave the expiry out for a key that never expires")
    return seconds


class SealedSecretError(ValueError):
    """A sealed secret does not open under this cluster key; the message says what to check."""


class SecretBox:
    """Seals access-key secrets under the cluster key and holds the share-link subkey.

    Built once per node from the cluster key bytes; keeps only the derived subkeys.
    """

    def __init__(self, cluster_key: bytes) -> None:
        if not isinstance(cluster_key, (bytes, bytearray)) or len(cluster_key) < CLUSTER_KEY_BYTES_MIN:
            raise ValueError(f"the cluster key must be at least {CLUSTER_KEY_BYTES_MIN} bytes "
                             "(--cluster-secret-file): write a longer random one, the same on every node")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(_derive(bytes(cluster_key), SECRETS_INFO))
        self._link_key = _derive(bytes(cluster_key), LINK_INFO)
        self._read_grant_key = _derive(bytes(cluster_key), READ_GRANT_INFO)
        self._write_grant_key = _derive(bytes(cluster_key), WRITE_GRANT_INFO)

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def seal(self, key_id: str, secret: str) -> bytes:
        """`secret` encrypted for the record of `key_id`: version byte, nonce, ciphertext and tag."""
        check_key_id(key_id)
        if not isinstance(secret, str) or not 1 <= len(secret.encode("utf-8")) <= SECRET_BYTES_MAX:
            raise ValueError(f"an access key secret must be text of 1 to {SECRET_BYTES_MAX} UTF-8 bytes")
        nonce = secrets.token_bytes(NONCE_BYTES)
        return bytes([SEALED_VERSION]) + nonce + self._aead.encrypt(nonce, secret.encode("utf-8"),
                                                                    key_id.encode("ascii"))

    def open(self, key_id: str, sealed: bytes) -> str:
        """The plaintext secret sealed for `key_id`; SealedSecretError when it does not open."""
        if not isinstance(sealed, (bytes, bytearray)) or len(sealed) < 1 + NONCE_BYTES + TAG_BYTES:
            raise SealedSecretError(f"the sealed secret of access key {key_id} is truncated: the record is "
                                    "corrupted; revoke the key and create a new one")
        if sealed[0] != SEALED_VERSION:
            raise SealedSecretError(f"the sealed secret of access key {key_id} has format {sealed[0]}, this node "
                                    f"reads {SEALED_VERSION}: upgrade this node")
        from cryptography.exceptions import InvalidTag

        nonce = bytes(sealed[1:1 + NONCE_BYTES])
        try:
            plain = self._aead.decrypt(nonce, bytes(sealed[1 + NONCE_BYTES:]), str(key_id).encode("utf-8"))
        except InvalidTag:
            raise SealedSecretError(
                f"cannot open the secret of access key {key_id}: this node's cluster key is not the one that "
                "sealed it (give every node the same --cluster-secret-file), or the record was moved or "
                "corrupted") from None
        return plain.decode("utf-8")

    def link_key(self) -> bytes:
        """The 32-byte HMAC-SHA256 key for signing share links (its own HKDF subkey)."""
        return self._link_key

    def read_grant_key(self) -> bytes:
        """The 32-byte HMAC-SHA256 key for chunk read grants (node/objects/direct.py), its own subkey."""
        return self._read_grant_key

    def write_grant_key(self) -> bytes:
        """The 32-byte HMAC-SHA256 key of direct puts (node/objects/direct_put.py), its own subkey."""
        return self._write_grant_key


def _derive(cluster_key: bytes, info: bytes) -> bytes:
    # An HKDF object derives once; a new one per subkey.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=SUBKEY_BYTES, salt=HKDF_SALT, info=info).derive(cluster_key)


def _utc(unix_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(unix_ms / 1000, tz=datetime.timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


@dataclasses.dataclass(frozen=True)
class AccessKey:
    """One access key as the cluster records it. Never holds the plaintext secret."""

    key_id: str
    tenant: str
    sealed_secret: bytes = dataclasses.field(repr=False)  # SecretBox.seal(key_id, secret)
    created_at_unix_ms: int
    expires_at_unix_ms: int = 0  # 0: never expires
    revoked_at_unix_ms: int = 0  # 0: not revoked; any other value revokes it at once, whatever the clock
    read_only: bool = False
    bucket: str = ""  # "": any bucket the tenant may reach; else only this one
    prefix: str = ""  # "": any key; else only keys starting with it
    role: str = ROLE_TENANT  # "tenant" or "operator"
    description: str = ""

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        check_tenant_name(self.tenant)
        if not isinstance(self.sealed_secret, bytes) or not 1 <= len(self.sealed_secret) <= SEALED_SECRET_BYTES_MAX:
            raise ValueError(f"access key {self.key_id}: sealed_secret must be 1 to {SEALED_SECRET_BYTES_MAX} bytes")
        for name in ("created_at_unix_ms", "expires_at_unix_ms", "revoked_at_unix_ms"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"access key {self.key_id}: {name} must be a whole number of milliseconds >= 0, "
                                 f"not {value!r}")
        if self.expires_at_unix_ms and self.expires_at_unix_ms <= self.created_at_unix_ms:
            raise ValueError(f"access key {self.key_id}: expires_at_unix_ms must be after created_at_unix_ms "
                             "(or 0 for never)")
        if type(self.read_only) is not bool:
            raise ValueError(f"access key {self.key_id}: read_only must be true or false, not {self.read_only!r}")
        for name, chars_max in (("bucket", BUCKET_CHARS_MAX), ("prefix", PREFIX_CHARS_MAX),
                                ("description", DESCRIPTION_CHARS_MAX)):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > chars_max:
                raise ValueError(f"access key {self.key_id}: {name} must be text of at most {chars_max} characters")
        if self.role not in ROLES:
            raise ValueError(f"access key {self.key_id}: role must be one of {', '.join(ROLES)}, not {self.role!r}")

    def state(self, now_ms: int) -> str:
        """The key's state at `now_ms`: "revoked", "expired" or "active". Revocation wins over expiry
        and takes effect whatever the revoking node's clock said, so a revocation made on a node
        whose clock runs ahead is not postponed."""
        if self.revoked_at_unix_ms:
            return "revoked"
        if self.expires_at_unix_ms and now_ms >= self.expires_at_unix_ms:
            return "expired"
        return "active"

    @property
    def expires_at_text(self) -> str:
        return _utc(self.expires_at_unix_ms) if self.expires_at_unix_ms else "never"

    @property
    def revoked_at_text(self) -> str:
        return _utc(self.revoked_at_unix_ms) if self.revoked_at_unix_ms else "not revoked"

    def to_json(self) -> bytes:
        """The record as compact JSON with sorted keys, the sealed secret in base64."""
        fields: dict[str, Any] = dataclasses.asdict(self)
        fields["sealed_secret"] = base64.b64encode(self.sealed_secret).decode("ascii")
        fields["format"] = RECORD_FORMAT
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> AccessKey:
        """A record written by `to_json`. ValueError, one line, for anything else: not JSON, a field
        missing, unknown or of the wrong type, another format."""
        try:
            fields = strict_json(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"access key record is not valid JSON: {str(err).splitlines()[0]}") from None
        if not isinstance(fields, dict):
            raise ValueError("access key record is not a JSON object")
        expected = {f.name for f in dataclasses.fields(cls)} | {"format"}
        unknown = sorted(set(fields) - expected)
        if unknown:
            raise ValueError(f"access key record has unknown fields {', '.join(unknown)}: it was written by a newer "
                             "node; upgrade this one")
        missing = sorted(expected - set(fields))
        if missing:
            raise ValueError(f"access key record lacks fields {', '.join(missing)}: the record is corrupted")
        if fields.pop("format") != RECORD_FORMAT:
            raise ValueError(f"access key record has a format other than {RECORD_FORMAT}: upgrade this node")
        for name, kind in _JSON_TYPES.items():
            if type(fields[name]) is not kind:  # not isinstance: JSON true is not the number 1
                raise ValueError(f"access key record field {name} must be a JSON {_JSON_TYPE_NAMES[kind]}, "
                                 f"not {_JSON_TYPE_NAMES.get(type(fields[name]), type(fields[name]).__name__)}")
        try:
            fields["sealed_secret"] = base64.b64decode(fields["sealed_secret"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("access key record field sealed_secret is not valid base64") from None
        return cls(**fields)


_JSON_TYPES = {"key_id": str, "tenant": str, "sealed_secret": str, "created_at_unix_ms": int,
               "expires_at_unix_ms": int, "revoked_at_unix_ms": int, "read_only": bool, "bucket": str, "prefix": str,
               "role": str, "description": str}
_JSON_TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", float: "number", list: "array", dict: "object",
                    type(None): "null"}


def strict_json(text: str | bytes, *, floats: bool = True) -> Any:
    """json.loads for records and tokens that must be exactly what this software wrote: a field
    named twice, NaN or Infinity (and, with floats=False, any number with a fraction or exponent)
    is ValueError instead of a value quietly chosen."""
    def refuse_float(number: str) -> Any:
        raise ValueError(f"{number[:20]} is not a whole number")

    return json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant,
                      parse_float=None if floats else refuse_float)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("a field appears twice")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


assert set(_JSON_TYPES) == {f.name for f in dataclasses.fields(AccessKey)}, "a field without its JSON type"
