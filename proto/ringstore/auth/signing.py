"""Request signatures: what a client puts in a call's metadata and what the node checks before any
handler runs.

**The scheme.** Three metadata headers: `x-ringstore-key-id`, `x-ringstore-date-ms` (the caller's
clock, Unix milliseconds) and `x-ringstore-signature`, the hex HMAC-SHA256 of

    RINGSTORE-HMAC-SHA256 \\n <full gRPC method path> \\n <resource> \\n <date_ms>

keyed with the *signing key* HMAC-SHA256(secret, "ringstore-signing-v1"), never with the secret
itself: nothing on the wire is a MAC under the raw secret, which the S3 gateway will also use for
SigV4 (whose own derivation starts from "AWS4" + secret, so the two never share a key either). The
resource (`resource()`) names what the call touches: "bucket/key", "bucket", or "" for a
cluster-wide call. Bucket and key are percent-encoded (the bucket's '/' too) so two different
(bucket, key) pairs never give the same text: ("a/b", "c") is "a%2Fb/c", ("a", "b/c") is "a/b/c".
The method and resource bind a signature to one call on one object: a header taken from a GET
cannot sign a DELETE, nor a GET of another object.

**Replay.** The signature does not cover the payload (hashing every chunk byte a second time would
cost what the issue's CPU budget for signing does not allow, and a streamed put would have to be
buffered before it could be checked). What keeps a header from being replayed with another payload
is TLS: every port serves TLS, so an observer on the network sees no header, and TLS authenticates
every byte of the connection. The date bounds the life of a header that leaks some other way (a log
line, a proxy that ends TLS, a dump of the client's memory): it verifies for SIGNATURE_WINDOW_S
either side of the node's clock and never after. Rejected: a nonce cache to refuse a header's second
use. Any node may take any call, so the cache would have to be cluster-wide state written on every
request, to protect against a leak that also exposes the payload it could be replayed with. A
client that retries signs each attempt anew.

**Failures.** `verify` raises AuthError with a `reason` label (the values of
`ringstore_auth_failures_total{reason}`) and a one-line message. An unknown key id and a wrong
signature give the same message, so a caller cannot learn which key ids exist; the labels stay
distinct for the operator. For the same reason `verify` computes an HMAC for an unknown key too (its
time does not tell "no such key" from "wrong secret", the lookup's own time aside), and says that a
key is revoked or expired only to a caller whose signature holds, who knows the secret. Clock skew
is checked before the key is looked up: a caller whose clock is off learns it (with the skew in
seconds) without the node reading its metadata.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping

from ringstore.auth.keys import KEY_ID_PREFIX, KEY_ID_RANDOM_CHARS, AccessKey, check_key_id, is_key_id

SCHEME = "RINGSTORE-HMAC-SHA256"
HEADER_KEY_ID = "x-ringstore-key-id"
HEADER_DATE_MS = "x-ringstore-date-ms"
HEADER_SIGNATURE = "x-ringstore-signature"
HEADERS = (HEADER_KEY_ID, HEADER_DATE_MS, HEADER_SIGNATURE)
# How far a request's date may be from the node's clock, either way. Shorter bounds a leaked
# header's life more tightly at the cost of refusing callers whose clocks drift (NTP keeps hosts
# within a second; AWS allows 15 minutes).
SIGNATURE_WINDOW_S = 300.0
SIGNING_KEY_LABEL = b"ringstore-signing-v1"
SIGNATURE_HEX_CHARS = 64  # SHA-256
# Longest date header: 15 digits of milliseconds reach the year 33658.
DATE_MS_DIGITS_MAX = 15

REASONS = ("missing", "malformed", "unknown_key", "bad_signature", "expired_key", "revoked_key", "clock_skew")
# One message for an unknown key id and a wrong signature (see the module docstring).
NO_MATCH_MESSAGE = "the signature does not match: check the access key id and secret"

_SIGNATURE_RE = re.compile(rf"^[0-9a-f]{{{SIGNATURE_HEX_CHARS}}}$")
_DATE_MS_RE = re.compile(rf"^[0-9]{{1,{DATE_MS_DIGITS_MAX}}}$")
_METHOD_RE = re.compile(r"^/[A-Za-z0-9_.]+/[A-Za-z0-9_]+$")
# HMAC'd for an unknown key id, so that answer takes as long as a wrong signature's.
_DECOY_SECRET = secrets.token_urlsafe(30)


class Refused(Exception):
    """Credentials refused: `reason` (one of the class's REASONS) is the metric label, the message
    one line for the caller."""

    REASONS: tuple[str, ...] = ()

    def __init__(self, reason: str, message: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r})"


class AuthError(Refused):
    """A call's signature was refused."""

    REASONS = REASONS


@dataclasses.dataclass(frozen=True)
class Verified:
    """A call whose signature holds, made with an active key: its record says tenant, role and scopes."""

    access_key: AccessKey

    @property
    def key_id(self) -> str:
        return self.access_key.key_id

    @property
    def tenant(self) -> str:
        return self.access_key.tenant

    @property
    def role(self) -> str:
        return self.access_key.role


def resource(bucket: str = "", key: str = "") -> str:
    """The canonical text of what a call touches: "bucket/key", "bucket", or "" (cluster-wide).

    Both parts are percent-encoded as UTF-8 ('%' included); the bucket's '/' too, the key's kept, so
    the first '/' always ends the bucket and distinct pairs give distinct texts.
    """
    if key and not bucket:
        raise ValueError("a resource with an object key needs its bucket")
    if not bucket:
        return ""
    text = urllib.parse.quote(bucket, safe="")
    if key:
        text += "/" + urllib.parse.quote(key, safe="/")
    return text


def resource_of(request: object) -> str:
    """The resource a call with one request message touches: the message's `bucket` and `key`
    fields when it has them (every ObjectService and AdminService request names them so), or its
    `header`'s (PutSmallObject carries a PutObjectHeader). Client and node both read it this way; a
    streamed request (PutObject) signs the empty resource."""
    header = getattr(request, "header", None)
    if header is not None and hasattr(header, "bucket"):
        request = header
    bucket = getattr(request, "bucket", "") or ""
    # A key without a bucket is a bad request the node refuses; it signs the empty resource.
    return resource(bucket, (getattr(request, "key", "") or "") if bucket else "")


def signing_key(secret: str) -> bytes:
    """The key every signature is made with: HMAC-SHA256(secret, SIGNING_KEY_LABEL)."""
    return hmac.new(secret.encode("utf-8"), SIGNING_KEY_LABEL, hashlib.sha256).digest()


def string_to_sign(method: str, resource: str, date_ms: int) -> bytes:
    """The canonical string: scheme, method, resource and date, one per line."""
    return f"{SCHEME}\n{method}\n{resource}\n{date_ms}".encode("utf-8")


def signature(secret: str, method: str, resource: str, date_ms: int) -> str:
    """The hex signature of one call."""
    return hmac.new(signing_key(secret), string_to_sign(method, resource, date_ms), hashlib.sha256).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_method(method: str) -> None:
    if not isinstance(method, str) or _METHOD_RE.fullmatch(method) is None:
        raise ValueError(f"method {str(method)[:80]!r} is not a full gRPC method path like "
                         "/ringstore.v1.ObjectService/GetObject")


def sign(key_id: str, secret: str, method: str, resource: str,
         now_ms: int | None = None) -> tuple[tuple[str, str], ...]:
    """The metadata pairs that sign one call of `method` on `resource` (the text the module's
    `resource()` makes) at `now_ms` (the caller's clock when not given). Sign each attempt: a retry
    past the window fails."""
    check_key_id(key_id)
    _check_method(method)
    if "\n" in resource:
        raise ValueError("a resource is made by ringstore.auth.signing.resource(), which never gives a newline")
    if not isinstance(secret, str) or not secret:
        raise ValueError("an access key secret must be a non-empty string")
    date_ms = _now_ms() if now_ms is None else int(now_ms)
    return ((HEADER_KEY_ID, key_id), (HEADER_DATE_MS, str(date_ms)),
            (HEADER_SIGNATURE, signature(secret, method, resource, date_ms)))


def verify(metadata: Mapping[str, str], method: str, resource: str,
           lookup: Callable[[str], tuple[AccessKey, str] | None], now_ms: int | None = None,
           *, window_s: float = SIGNATURE_WINDOW_S) -> Verified:
    """Check a call's signature headers for `method` on `resource` at `now_ms` (this node's
    clock when not given). `lookup(key_id)` returns the key's record and plaintext secret, whatever
    its state (so a revoked key is named as revoked), or None for an id the cluster does not know.
    Returns the key's record; raises AuthError (reason, one-line message)."""
    assert "\n" not in method and "\n" not in resource, "method and resource come from this node"
    given = {name: metadata.get(name) for name in HEADERS}
    absent = [name for name, value in given.items() if value is None]
    if len(absent) == len(HEADERS):
        raise AuthError("missing", "this call needs an access key: give --profile NAME, or set "
                                   "RINGSTORE_ACCESS_KEY_ID and RINGSTORE_SECRET_ACCESS_KEY")
    if absent:
        raise AuthError("missing", f"the request lacks the {' and '.join(absent)} header"
                                   f"{'s' if len(absent) > 1 else ''}: sign it with its access key "
                                   "(ringstore.auth.signing.sign)")
    key_id, date_text, given_signature = (given[name] for name in HEADERS)
    if not is_key_id(key_id):
        raise AuthError("malformed", f"the {HEADER_KEY_ID} header is not an access key id ({KEY_ID_PREFIX} and "
                                     f"{KEY_ID_RANDOM_CHARS} characters from A-Z and 2-7)")
    if not isinstance(date_text, str) or _DATE_MS_RE.fullmatch(date_text) is None:
        raise AuthError("malformed", f"the {HEADER_DATE_MS} header is not a whole number of milliseconds since "
                                     "1970 (UTC)")
    if not isinstance(given_signature, str) or _SIGNATURE_RE.fullmatch(given_signature) is None:
        raise AuthError("malformed", f"the {HEADER_SIGNATURE} header is not {SIGNATURE_HEX_CHARS} lowercase hex "
                                     "digits")
    date_ms = int(date_text)
    now_ms = _now_ms() if now_ms is None else now_ms
    skew_s = (date_ms - now_ms) / 1000.0
    if abs(skew_s) > window_s:
        direction = "ahead of" if skew_s > 0 else "behind"
        raise AuthError("clock_skew", f"the request is dated {abs(skew_s):.1f} s {direction} this node's clock, "
                                      f"beyond the {window_s:.0f} s allowed: set the calling host's clock (NTP) "
                                      "and sign each attempt anew")
    found = lookup(key_id)
    if found is None:
        decoy = signature(_DECOY_SECRET, method, resource, date_ms)
        hmac.compare_digest(decoy, given_signature)
        raise AuthError("unknown_key", NO_MATCH_MESSAGE)
    record, secret = found
    assert record.key_id == key_id, f"lookup({key_id}) returned the record of {record.key_id}"
    expected = signature(secret, method, resource, date_ms)
    if not hmac.compare_digest(expected, given_signature):
        raise AuthError("bad_signature", NO_MATCH_MESSAGE)
    refused = key_state_refusal(record, now_ms)
    if refused is not None:
        raise AuthError(*refused)
    return Verified(access_key=record)


def key_state_refusal(record: AccessKey, now_ms: int) -> tuple[str, str] | None:
    """(reason, one-line message) when a key whose signature holds may not be used now (revoked or
    expired), else None; the S3 port refuses such a key with the same words."""
    state = record.state(now_ms)
    if state == "revoked":
        return "revoked_key", (f"access key {record.key_id} was revoked at {record.revoked_at_text}: ask the "
                               "operator for a new key (nodectl admin key create)")
    if state == "expired":
        return "expired_key", (f"access key {record.key_id} expired at {record.expires_at_text}: ask the "
                               "operator for a new key (nodectl admin key create)")
    return None
