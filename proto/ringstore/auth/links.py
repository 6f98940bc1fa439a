"""Share links: the token that lets someone with no account read one object, and its codec.

**What a token says.** A `LinkGrant`: the link's id, the access key that granted it and that key's
tenant, the bucket (with its creation time, so a bucket removed and made again under the same name
is not the one the link names), the object key, an optional byte range, and when the link was made
and expires. Read-only is not a field: a link only ever reads (get, stat) its one object.

**The format.** `rsl1.<payload>.<mac>`, three parts joined by dots, all URL-safe (A-Z a-z 0-9 - _ .):

    rsl1        the format's name and version; a node refuses any other
    payload     base64url, unpadded, of the grant as compact JSON with short field names (below)
    mac         base64url, unpadded, of HMAC-SHA256(link subkey, "rsl1." + payload), 32 bytes

The MAC covers the text as sent (version and base64 payload), so nothing has to be re-encoded
canonically before checking, and it is checked before the payload is parsed: a node parses JSON
only from a token this cluster made. Base64 text that is not the canonical encoding of its bytes
(stray bits in the last character) is refused, so no two texts carry one MAC and flipping any
character of a token is refused. The key is `SecretBox.link_key()`, the cluster key's HKDF subkey
for this purpose only (ringstore/auth/keys.py): a link MAC is never a valid access-key seal, and
tokens made by another cluster do not check out here.

Payload fields (JSON, no others allowed, each once):

    i   link id, RL and 18 of A-Z 2-7          b   bucket name
    g   granting access key id                  bc  the bucket's created_at_unix_ms
    t   the granting key's tenant               k   object key
    r   [start_bytes, length_bytes] (length 0: to the end); absent: the whole object
    c   created_at_unix_ms                      e   expires_at_unix_ms (every link expires)

Short names because the token travels in a header and will be an HTTPS URL (the S3 issue): the
payload of a short key is about 200 characters, the whole token about 250.

**Limits.** A token is at most TOKEN_CHARS_MAX characters: a key of 1024 UTF-8 bytes fits, one full
of control characters (each escaped to six in JSON) may not, and is refused at creation. 4 KiB
stays well under gRPC's 8 KiB default for all of a call's metadata and under the 8 KiB URLs that
HTTP servers usually take.

**What is not here.** Revocation and the granting key's state are the node's business: it keeps a
record per link (node/auth/links.py). A token alone only says what was granted, and until when.

Rejected: a protobuf payload (as compact, but a token could not be read by eye or by `jq` when
debugging); JWT (its header lets the token choose the algorithm, the classic way to forge one, and
its claims would need the same strict parsing anyway); Ed25519 signatures (a node that verifies
also signs, so a public key gains nothing, and HMAC is cheaper).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from ringstore.auth.keys import BUCKET_CHARS_MAX, KEY_ID_ALPHABET, is_key_id, strict_json
from ringstore.auth.signing import Refused
from ringstore.text import duration_text, utc_text

VERSION = "rsl1"
HEADER_LINK = "x-ringstore-link"
LINK_ID_PREFIX = "RL"
LINK_ID_RANDOM_CHARS = 18  # base32, 90 random bits, as access key ids
LINK_ID_RE = re.compile(rf"^{LINK_ID_PREFIX}[A-Z2-7]{{{LINK_ID_RANDOM_CHARS}}}$")
MAC_BYTES = 32  # HMAC-SHA256, untruncated
MAC_CHARS = 43  # unpadded base64 of 32 bytes
# Longest token a node reads or makes (see the module docstring).
TOKEN_CHARS_MAX = 4096
# An object key is at most 1024 UTF-8 bytes (node/objects/validate.py, nodectl/client/limits.py).
KEY_BYTES_MAX = 1024
# Longest and default life of a link. Every link expires: a token that leaks is worth something for
# this long at most even if nobody revokes it. The default is `aws s3 presign`'s; the longest is a
# month (S3's presigned URLs stop at 7 days because they cannot be revoked; these can).
EXPIRES_IN_S_DEFAULT = 3600.0
EXPIRES_IN_S_MAX = 30 * 86400.0
# Largest number a payload field may hold: JSON numbers past 2**53 lose precision in other readers.
NUMBER_MAX = 2**53 - 1

REASONS = ("link_malformed", "link_bad_mac", "link_unknown", "link_expired", "link_revoked",
           "link_grantor_invalid", "link_bucket_gone")

_BUCKET_RE = re.compile(r"^[a-z0-9-]{3,63}$")
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_FIELDS = {"i": str, "g": str, "t": str, "b": str, "bc": int, "k": str, "c": int, "e": int}
_OPTIONAL_FIELDS = {"r": list}


class LinkError(Refused):
    """A share link was refused: `reason` is the metric label (REASONS), the message one line."""

    REASONS = REASONS


def new_link_id() -> str:
    link_id = LINK_ID_PREFIX + "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(LINK_ID_RANDOM_CHARS))
    assert LINK_ID_RE.fullmatch(link_id)
    return link_id


def is_link_id(text: object) -> bool:
    return isinstance(text, str) and LINK_ID_RE.fullmatch(text) is not None


@dataclasses.dataclass(frozen=True)
class LinkGrant:
    """What one share link lets its holder do: read `key` of `bucket` (its `range`), until
    `expires_at_unix_ms`, for as long as the granting key `key_id` stays valid."""

    link_id: str
    key_id: str  # the access key that made the link
    tenant: str  # that key's tenant ("operator" for the operator's keys)
    bucket: str
    bucket_created_at_unix_ms: int
    key: str
    created_at_unix_ms: int
    expires_at_unix_ms: int
    range_start_bytes: int = 0
    range_length_bytes: int = 0  # 0: to the end of the object

    def __post_init__(self) -> None:
        if not is_link_id(self.link_id):
            raise ValueError(f"link id {str(self.link_id)[:40]!r} is not {LINK_ID_PREFIX} and "
                             f"{LINK_ID_RANDOM_CHARS} characters from A-Z and 2-7")
        if not is_key_id(self.key_id):
            raise ValueError(f"share link {self.link_id}: the granting key id is not an access key id")
        if not isinstance(self.tenant, str) or _TENANT_RE.fullmatch(self.tenant) is None:
            raise ValueError(f"share link {self.link_id}: tenant {str(self.tenant)[:70]!r} is not a tenant name")
        if not isinstance(self.bucket, str) or len(self.bucket) > BUCKET_CHARS_MAX or \
                _BUCKET_RE.fullmatch(self.bucket) is None:
            raise ValueError(f"share link {self.link_id}: bucket {str(self.bucket)[:70]!r} is not a bucket name")
        if not isinstance(self.key, str) or not self.key or "\0" in self.key or _utf8_bytes(self.key) > KEY_BYTES_MAX:
            raise ValueError(f"share link {self.link_id}: the object key must be 1 to {KEY_BYTES_MAX} UTF-8 bytes "
                             "without NUL")
        for name in ("bucket_created_at_unix_ms", "created_at_unix_ms", "expires_at_unix_ms", "range_start_bytes",
                     "range_length_bytes"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= NUMBER_MAX:
                raise ValueError(f"share link {self.link_id}: {name} must be a whole number in 0..{NUMBER_MAX}, "
                                 f"not {value!r}")
        if self.expires_at_unix_ms <= self.created_at_unix_ms:
            raise ValueError(f"share link {self.link_id}: it must expire after it was made")

    @property
    def whole_object(self) -> bool:
        return self.range_start_bytes == 0 and self.range_length_bytes == 0

    @property
    def range_text(self) -> str:
        """"bytes 100-199" (inclusive, as --range takes it), "bytes 100-" or "whole object"."""
        if self.whole_object:
            return "whole object"
        end = str(self.range_start_bytes + self.range_length_bytes - 1) if self.range_length_bytes else ""
        return f"bytes {self.range_start_bytes}-{end}"

    def expired(self, now_ms: int) -> bool:
        return now_ms >= self.expires_at_unix_ms

    def expired_message(self, now_ms: int) -> str:
        return (f"share link {self.link_id} expired at {utc_text(self.expires_at_unix_ms)} "
                f"({duration_text((now_ms - self.expires_at_unix_ms) / 1000)} ago): ask whoever shared "
                f"{self.bucket}/{self.key} for a new link")

    def to_payload(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"i": self.link_id, "g": self.key_id, "t": self.tenant, "b": self.bucket,
                                  "bc": self.bucket_created_at_unix_ms, "k": self.key, "c": self.created_at_unix_ms,
                                  "e": self.expires_at_unix_ms}
        if not self.whole_object:
            fields["r"] = [self.range_start_bytes, self.range_length_bytes]
        return fields

    @classmethod
    def from_payload(cls, fields: object) -> LinkGrant:
        """The grant a payload object names; ValueError, one line, for anything else."""
        if not isinstance(fields, dict):
            raise ValueError("the payload is not a JSON object")
        unknown = sorted(set(fields) - set(_FIELDS) - set(_OPTIONAL_FIELDS))
        if unknown:
            raise ValueError(f"the payload has unknown fields {', '.join(unknown)[:80]}")
        missing = sorted(set(_FIELDS) - set(fields))
        if missing:
            raise ValueError(f"the payload lacks fields {', '.join(missing)}")
        for name, kind in {**_FIELDS, **_OPTIONAL_FIELDS}.items():
            if name in fields and type(fields[name]) is not kind:  # JSON true is not the number 1
                raise ValueError(f"payload field {name} has the wrong type")
        start, length = 0, 0
        if "r" in fields:
            span = fields["r"]
            if len(span) != 2 or any(type(n) is not int for n in span) or (span[0], span[1]) == (0, 0):
                raise ValueError("payload field r is not [start_bytes, length_bytes] of a part of the object")
            start, length = span
        return cls(link_id=fields["i"], key_id=fields["g"], tenant=fields["t"], bucket=fields["b"],
                   bucket_created_at_unix_ms=fields["bc"], key=fields["k"], created_at_unix_ms=fields["c"],
                   expires_at_unix_ms=fields["e"], range_start_bytes=start, range_length_bytes=length)


def _utf8_bytes(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 at all
        return KEY_BYTES_MAX + 1


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    if _B64URL_RE.fullmatch(text) is None or len(text) % 4 == 1:
        raise LinkError("link_malformed", f"the share link's {what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LinkError("link_malformed", f"the share link's {what} is not base64url") from None
    if _b64encode(data) != text:  # stray bits in the last character: not the one encoding of these bytes
        raise LinkError("link_malformed", f"the share link's {what} is not canonical base64url")
    return data


def _mac(link_key: bytes, signed: str) -> bytes:
    return hmac.new(link_key, signed.encode("ascii"), hashlib.sha256).digest()


def encode(grant: LinkGrant, link_key: bytes) -> str:
    """The token for `grant`, signed with `link_key` (SecretBox.link_key()). ValueError when it
    would be longer than TOKEN_CHARS_MAX."""
    assert len(link_key) == 32, "the link key is SecretBox.link_key()"
    payload = json.dumps(grant.to_payload(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    signed = f"{VERSION}.{_b64encode(payload.encode('utf-8'))}"
    token = f"{signed}.{_b64encode(_mac(link_key, signed))}"
    if len(token) > TOKEN_CHARS_MAX:
        raise ValueError(f"the share link for this key would be {len(token)} characters, over the "
                         f"{TOKEN_CHARS_MAX} a link may have: share an object with a shorter key")
    return token


def _split(token: object) -> tuple[str, str, bytes]:
    """(signed text, payload text, mac bytes) of a token's form; LinkError link_malformed otherwise."""
    if not isinstance(token, str):
        raise LinkError("link_malformed", "the share link is not text")
    if len(token) > TOKEN_CHARS_MAX:
        raise LinkError("link_malformed", f"the share link is {len(token)} characters; a link has at most "
                                          f"{TOKEN_CHARS_MAX}")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0]:
        raise LinkError("link_malformed", f"the share link is not of the form {VERSION}.<payload>.<mac> (copy all of "
                                          "it)")
    version, payload, mac_text = parts
    if version != VERSION:
        raise LinkError("link_malformed", f"the share link has format {version[:12]!r}; this software reads "
                                          f"{VERSION!r} links")
    if len(mac_text) != MAC_CHARS:
        raise LinkError("link_malformed", f"the share link's signature is {len(mac_text)} characters, not "
                                          f"{MAC_CHARS} (was it cut short?)")
    mac = _b64decode(mac_text, "signature")
    return f"{version}.{payload}", payload, mac


def _grant(payload: str) -> LinkGrant:
    data = _b64decode(payload, "payload")
    try:
        fields = strict_json(data.decode("utf-8"), floats=False)
        return LinkGrant.from_payload(fields)
    except (ValueError, UnicodeDecodeError) as err:
        raise LinkError("link_malformed", f"the share link's payload is not valid: {str(err).splitlines()[0][:200]}"
                        ) from None


def verify(token: object, link_key: bytes) -> LinkGrant:
    """The grant of a token this cluster signed; LinkError (link_malformed, link_bad_mac) otherwise.
    Says nothing of expiry, revocation or the granting key: the caller checks those."""
    signed, payload, mac = _split(token)
    if not hmac.compare_digest(_mac(link_key, signed), mac):
        raise LinkError("link_bad_mac", "the share link's signature does not check out: it was altered, cut, or "
                                        "made by another cluster")
    return _grant(payload)


def peek(token: object) -> LinkGrant:
    """What a token claims, without checking its signature (a client has no key to check it with):
    which object to ask for. Never trust it for anything else. LinkError link_malformed."""
    _, payload, _ = _split(token)
    return _grant(payload)
