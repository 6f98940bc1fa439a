"""AWS Signature Version 4 as an S3 endpoint checks it, and the `aws-chunked` bodies it signs.

`verify` authenticates a request signed in the Authorization header or presigned in the query
string and returns what the body checks need (`Signed`); `ChunkedDecoder` strips `aws-chunked`
framing as the body streams and checks each chunk's signature; `PayloadSha256`, `ContentMd5` and
`checksum_checker` check a body against what its headers or trailers declare. Only the standard
library's HMAC-SHA256 and digests are used, and awscrt's CRC32C and CRC64/NVME.

Decisions:

- Canonical URI and query are computed by percent-decoding what arrived on the wire and encoding it
  again (everything but `A-Za-z0-9-._~`, and `/` in the path), once. S3 signs the decoded key:
  SDKs differ in which reserved characters they leave raw (`!`, `'`, `(`, `*` ...) and proxies
  sometimes re-encode, so re-deriving the canonical form matches botocore, aws-sdk-go (rclone) and
  the AWS CLI whichever they did. S3 neither double-encodes nor normalises the path (`a//b` and
  `a/../b` are keys), so neither happens here. In the query a `+` is a space, as aiohttp hands
  the query to the handlers, so the signature covers the values the request is served with.
- Requests are refused when their date is more than 15 minutes from the server's clock: S3's
  limit, so clients built for S3 fit it (the SDKs that correct a skewed clock read the error's
  ServerTime or the response's Date); it bounds how long a captured request can be replayed. A
  presigned URL is instead bounded by its X-Amz-Expires (at most 7 days, as S3) in the past, and
  by the same 15 minutes in the future.
- Accepted: AWS4-HMAC-SHA256 in the header or the query; payloads as a hex SHA-256 (the caller
  checks it against the body with `PayloadSha256`), UNSIGNED-PAYLOAD, and the three aws-chunked
  modes below. Refused with a message saying so: Signature Version 2 (S3 refuses it in every
  region opened since 2014), SigV4a (ECDSA), and any other scheme.
- aws-chunked: `size[;chunk-signature=sig]CRLF data CRLF` ..., then the 0-size chunk, trailer
  lines `name:value CRLF`, and a blank line (HTTP/1.1 chunked grammar; botocore's unsigned
  trailer body is `0CRLF x-amz-checksum-crc32:...CRLF CRLF`). A chunk signature signs
  `AWS4-HMAC-SHA256-PAYLOAD, date, scope, previous signature, sha256(""), sha256(data)`, chained
  from the request's seed signature; the trailer signature signs `AWS4-HMAC-SHA256-TRAILER, date,
  scope, the 0-size chunk's signature, sha256(the trailers as sorted "name:value\\n" lines)`, as
  aws-c-auth (the AWS SDKs' common runtime) computes it and checks in its test vectors. With
  signed chunks a chunk is released only once its signature checked, so the decoder holds at
  most one chunk (bounded by max_chunk_bytes); unsigned chunks are released as they arrive.
- CRC32C and CRC64/NVME have no stdlib implementation: they come from awscrt, the AWS Common
  Runtime that botocore and the AWS CLI compute them with (over 20 GB/s here; a byte-table CRC in
  Python ran at 10 MiB/s, which would have made a client's choice of checksum the put's limit).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import math
import re
import time
import zlib
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import quote, unquote_to_bytes

import awscrt.checksums

from ringstore.auth import s3sign

from node.s3.errors import S3Error

SERVICE = "s3"
SKEW_MAX_S = 15 * 60
PRESIGN_EXPIRES_MAX_S = 7 * 24 * 3600
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

ALGORITHM = "AWS4-HMAC-SHA256"
_ECDSA_ALGORITHM = "AWS4-ECDSA-P256-SHA256"
_TERMINATOR = "aws4_request"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_SCOPE_DATE = re.compile(r"\d{8}")
_STREAMING = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                   "X-Amz-SignedHeaders", "X-Amz-Signature")
_SIGV4_HINT = "configure the client for Signature Version 4 (AWS4-HMAC-SHA256, botocore's signature_version 's3v4')"


@dataclasses.dataclass(frozen=True)
class Signed:
    """A request whose signature checked: who signed it and what its body checks need."""

    key_id: str
    region: str
    date: str  # YYYYMMDD of the scope
    amz_date: str  # YYYYMMDDTHHMMSSZ
    signature: str  # the request's (seed) signature, hex
    signing_key: bytes = dataclasses.field(repr=False)  # derived key, for chunk signatures
    payload: str  # x-amz-content-sha256: a hex sha256 or one of the constants above
    presigned: bool


def sign_request_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The SigV4 signing key: HMAC chain of the scope over "AWS4" + secret (ringstore.auth.s3sign,
    which clients' presigned URLs are made with too)."""
    return s3sign.signing_key(secret, date, region, service)


def verify(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], *,
           secret_for: Callable[[str], str | None], region: str, now: float | None = None) -> Signed | None:
    """Check the request's SigV4 signature; None when it carries no credentials (anonymous).

    `raw_path` and `raw_query` are as received, percent-encoded (a `?query` left on the path, as
    aiohttp's raw_path has it, is ignored there); `headers` is any mapping, names in any case.
    Raises S3Error for a request that carries credentials that do not check."""
    fields = _header_lists(headers)
    query = _query_pairs(raw_query)
    names = {name for name, _ in query}
    authorization = _first(fields, "authorization")
    presigned = any(name.encode() in names for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"))
    sigv2_query = b"AWSAccessKeyId" in names and b"Signature" in names
    if authorization is None and not presigned and not sigv2_query:
        return None
    if authorization is not None and (presigned or sigv2_query):
        raise S3Error("InvalidArgument", "the request carries both an Authorization header and query-string "
                                         "authentication: send only one of them")
    if sigv2_query:
        raise _sigv2_refused()
    clock = time.time() if now is None else now
    if authorization is not None:
        claim = _header_claim(authorization, fields, region, clock)
    else:
        claim = _query_claim(_query_params(query), fields, region, clock)
    return _check_signature(claim, method, raw_path, query, fields, secret_for)


# --- what the request claims ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Claim:
    key_id: str
    date: str
    region: str
    amz_date: str
    signed_headers: tuple[str, ...]
    signature: str
    payload: str
    presigned: bool


def _header_claim(authorization: str, fields: dict[str, list[str]], region: str, now: float) -> _Claim:
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme == "AWS":
        raise _sigv2_refused()
    if scheme == _ECDSA_ALGORITHM:
        raise _sigv4a_refused()
    if scheme != ALGORITHM:
        raise S3Error("InvalidArgument", f"the Authorization scheme {scheme[:40]!r} is not supported: {_SIGV4_HINT}")
    parts = _authorization_fields(rest)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise S3Error("AuthorizationHeaderMalformed",
                      f"the Authorization header lacks {', '.join(missing)}; it must read 'AWS4-HMAC-SHA256 "
                      "Credential=KEY/DATE/REGION/s3/aws4_request, SignedHeaders=..., Signature=...': fix the client")
    code = "AuthorizationHeaderMalformed"
    key_id, date = _credential(parts["Credential"], region, code)
    amz_date = _header_amz_date(fields)
    _check_scope_date(date, amz_date, code)
    _check_skew(amz_date, now)
    payload = _first(fields, "x-amz-content-sha256")
    if payload is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256; every "
                                        "SigV4 S3 request sends it: fix the client")
    return _Claim(key_id, date, region, amz_date, _signed_headers(parts["SignedHeaders"], code),
                  parts["Signature"].lower(), _payload(payload.strip()), presigned=False)


def _query_claim(params: dict[str, str], fields: dict[str, list[str]], region: str, now: float) -> _Claim:
    code = "AuthorizationQueryParametersError"
    missing = [name for name in _PRESIGN_PARAMS if not params.get(name)]
    if missing:
        raise S3Error(code, f"the presigned URL lacks {', '.join(missing)}; SigV4 query authentication needs "
                            f"all of {', '.join(_PRESIGN_PARAMS)}: presign the URL again")
    if params["X-Amz-Algorithm"] == _ECDSA_ALGORITHM:
        raise _sigv4a_refused()
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error(code, f"X-Amz-Algorithm {params['X-Amz-Algorithm'][:40]!r} is not supported; it must be "
                            f"{ALGORITHM}: presign the URL with Signature Version 4")
    key_id, date = _credential(params["X-Amz-Credential"], region, code)
    amz_date = params["X-Amz-Date"]
    if _parse_amz_date(amz_date) is None:
        raise S3Error(code, f"X-Amz-Date {amz_date[:40]!r} is not of the form YYYYMMDDTHHMMSSZ: presign the URL again")
    _check_scope_date(date, amz_date, code)
    _check_presigned_window(amz_date, params["X-Amz-Expires"], now)
    payload = params.get("X-Amz-Content-Sha256") or _first(fields, "x-amz-content-sha256") or UNSIGNED_PAYLOAD
    return _Claim(key_id, date, region, amz_date, _signed_headers(params["X-Amz-SignedHeaders"], code),
                  params["X-Amz-Signature"].lower(), _payload(payload.strip()), presigned=True)


def _authorization_fields(rest: str) -> dict[str, str]:
    """`Credential=..., SignedHeaders=..., Signature=...`, with or without spaces after the commas."""
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name.strip()] = value.strip()
    return fields


def _credential(credential: str, region: str, code: str) -> tuple[str, str]:
    """(access key id, scope date) from `KEY/YYYYMMDD/REGION/s3/aws4_request`, its scope checked."""
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not all(parts) or not _SCOPE_DATE.fullmatch(parts[1]):
        raise S3Error(code, f"the credential {credential[:200]!r} is malformed; it must read "
                            f"KEY/YYYYMMDD/{region}/s3/aws4_request: fix the client's signing")
    key_id, date, scope_region, service, terminator = parts
    if scope_region != region:
        raise S3Error(code, f"the region {scope_region[:64]!r} is wrong; this endpoint expects {region!r}: "
                            f"configure the client's region as {region!r}", extra={"Region": region})
    if service != SERVICE:
        raise S3Error(code, f"the credential is scoped to service {service[:64]!r}; this endpoint is {SERVICE!r}: "
                            "sign the request for service 's3'")
    if terminator != _TERMINATOR:
        raise S3Error(code, f"the credential ends in {terminator[:64]!r}, not {_TERMINATOR!r}: "
                            "fix the client's signing")
    return key_id, date


def _signed_headers(value: str, code: str) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in value.split(";"))
    if not all(names):
        raise S3Error(code, f"SignedHeaders {value[:200]!r} has an empty name; it must be header names joined "
                            "by ';': fix the client's signing")
    if "host" not in names:
        raise S3Error("AccessDenied", "the signature does not cover the Host header, which SigV4 requires: "
                                      "sign 'host' (every SDK does)", extra={"HeadersNotSigned": "host"})
    return names


def _payload(value: str) -> str:
    """The payload line as sent (it is what was signed); a hex SHA-256 may be in either case."""
    if value in (UNSIGNED_PAYLOAD, *_STREAMING) or _HEX64.fullmatch(value.lower()):
        return value
    if value.startswith("STREAMING-AWS4-ECDSA") or value.startswith("STREAMING-AWS4-HMAC-SHA256-EVENTS"):
        raise S3Error("NotImplemented", f"x-amz-content-sha256 {value[:64]!r} is not supported here: send a hex "
                                        f"SHA-256, {UNSIGNED_PAYLOAD} or one of {', '.join(_STREAMING)}")
    raise S3Error("InvalidArgument", f"x-amz-content-sha256 {value[:80]!r} is neither a hex SHA-256 nor one of "
                                     f"{UNSIGNED_PAYLOAD}, {', '.join(_STREAMING)}: fix the client")


# --- dates ----------------------------------------------------------------------------------------------


def _parse_amz_date(value: str) -> datetime.datetime | None:
    if not _AMZ_DATE.fullmatch(value):
        return None
    try:
        return datetime.datetime.strptime(value, _AMZ_DATE_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def _header_amz_date(fields: dict[str, list[str]]) -> str:
    """The signing time of a header-signed request: x-amz-date, else the Date header."""
    amz = _first(fields, "x-amz-date")
    if amz is not None:
        if _parse_amz_date(amz.strip()) is None:
            raise S3Error("AccessDenied", f"x-amz-date {amz[:40]!r} is not of the form YYYYMMDDTHHMMSSZ; AWS "
                                          "authentication requires a valid Date or x-amz-date header: fix the client")
        return amz.strip()
    date = _first(fields, "date")
    if date is None:
        raise S3Error("AccessDenied", "the request has neither an x-amz-date nor a Date header; AWS authentication "
                                      "requires one of them: send x-amz-date (every SDK does)")
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise S3Error("AccessDenied", f"the Date header {date[:64]!r} is not an HTTP date; AWS authentication "
                                      "requires a valid Date or x-amz-date header: send x-amz-date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC).strftime(_AMZ_DATE_FORMAT)


def _check_scope_date(date: str, amz_date: str, code: str) -> None:
    if amz_date[:8] != date:
        raise S3Error(code, f"the credential's date {date} is not the request's date {amz_date[:8]} ({amz_date}): "
                            "sign with the scope date of the request's timestamp")


def _server_time(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _amz_epoch(amz_date: str) -> float:
    parsed = _parse_amz_date(amz_date)
    assert parsed is not None  # checked when the claim was read
    return parsed.timestamp()


def _check_skew(amz_date: str, now: float) -> None:
    offset = _amz_epoch(amz_date) - now
    if abs(offset) <= SKEW_MAX_S:
        return
    side = "ahead of" if offset > 0 else "behind"
    raise S3Error("RequestTimeTooSkewed",
                  f"the request's date {amz_date} is {math.ceil(abs(offset) / 60)} minutes {side} the server's clock "
                  f"(limit {SKEW_MAX_S // 60} minutes): fix the client's clock",
                  extra={"RequestTime": amz_date, "ServerTime": _server_time(now),
                         "MaxAllowedSkewMilliseconds": str(SKEW_MAX_S * 1000)})


def _check_presigned_window(amz_date: str, expires: str, now: float) -> None:
    if not expires.isdecimal() or not 1 <= int(expires) <= PRESIGN_EXPIRES_MAX_S:
        raise S3Error("AuthorizationQueryParametersError",
                      f"X-Amz-Expires {expires[:20]!r} must be a whole number of seconds from 1 to "
                      f"{PRESIGN_EXPIRES_MAX_S} (7 days): presign the URL with a shorter expiry")
    signed_at = _amz_epoch(amz_date)
    if signed_at - now > SKEW_MAX_S:
        raise S3Error("AccessDenied",
                      f"Request is not valid yet: the presigned URL is dated {amz_date}, "
                      f"{math.ceil((signed_at - now) / 60)} minutes ahead of the server's clock (limit "
                      f"{SKEW_MAX_S // 60} minutes): fix the signer's clock",
                      extra={"ServerTime": _server_time(now)})
    expiry = signed_at + int(expires)
    if now > expiry:
        raise S3Error("AccessDenied",
                      f"Request has expired: the presigned URL expired at {_server_time(expiry)} (signed {amz_date} "
                      f"for {expires} s): presign a new URL",
                      extra={"X-Amz-Expires": expires, "Expires": _server_time(expiry),
                             "ServerTime": _server_time(now)})


# --- the canonical request ------------------------------------------------------------------------------


def _header_lists(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Lowercase name -> its values in order (a multidict yields a repeated header once per value)."""
    fields: dict[str, list[str]] = {}
    for name, value in headers.items():
        fields.setdefault(name.lower(), []).append(value)
    return fields


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _wire_bytes(text: str) -> bytes:
    """Bytes of a path, query or header as received (aiohttp decodes them as UTF-8 with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


def _printable(text: str) -> str:
    """Request text for an error's XML: bytes that were not UTF-8 become U+FFFD."""
    return _wire_bytes(text).decode("utf-8", "replace")


def _query_pairs(raw_query: str) -> list[tuple[bytes, bytes]]:
    """Decoded (name, value) pairs in order; a bare `acl` is ("acl", ""), a `+` is a space."""
    pairs = []
    for part in _wire_bytes(raw_query).split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            pairs.append((unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))))
    return pairs


def _query_params(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
    return params


def _canonical_uri(raw_path: str) -> str:
    path = raw_path.partition("?")[0] or "/"
    return quote(unquote_to_bytes(_wire_bytes(path)), safe="/")


def _canonical_query(pairs: list[tuple[bytes, bytes]], presigned: bool) -> str:
    encoded = sorted((quote(name, safe=""), quote(value, safe=""))
                     for name, value in pairs if not (presigned and name == b"X-Amz-Signature"))
    return "&".join(f"{name}={value}" for name, value in encoded)


def _canonical_headers(fields: dict[str, list[str]], names: tuple[str, ...]) -> list[str]:
    lines = []
    for name in names:
        values = fields.get(name)
        if values is None:
            raise S3Error("SignatureDoesNotMatch", f"the signed header {name!r} is not in the request (a proxy may "
                                                   "have removed it): send every header named in SignedHeaders")
        lines.append(f"{name}:{','.join(' '.join(value.split()) for value in values)}")
    return lines


def _check_signature(claim: _Claim, method: str, raw_path: str, query: list[tuple[bytes, bytes]],
                     fields: dict[str, list[str]], secret_for: Callable[[str], str | None]) -> Signed:
    secret = secret_for(claim.key_id)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", f"the access key {claim.key_id[:128]!r} does not exist in our records: "
                                            "check the client's access key ID",
                      extra={"AWSAccessKeyId": _printable(claim.key_id)})
    canonical_request = "\n".join([method.upper(), _canonical_uri(raw_path), _canonical_query(query, claim.presigned),
                                   *_canonical_headers(fields, claim.signed_headers), "",
                                   ";".join(claim.signed_headers), claim.payload])
    scope = f"{claim.date}/{claim.region}/{SERVICE}/{_TERMINATOR}"
    string_to_sign = "\n".join([ALGORITHM, claim.amz_date, scope, _sha256_hex(_wire_bytes(canonical_request))])
    key = sign_request_key(secret, claim.date, claim.region)
    expected = _hmac(key, string_to_sign).hex()
    if not (_HEX64.fullmatch(claim.signature) and hmac.compare_digest(expected, claim.signature)):
        raise S3Error("SignatureDoesNotMatch",
                      f"the request's signature does not match the one computed with access key {claim.key_id!r} "
                      "(see StringToSign and CanonicalRequest): check the client's secret key, and that no proxy "
                      "rewrites the path, query or signed headers",
                      extra={"AWSAccessKeyId": _printable(claim.key_id), "StringToSign": string_to_sign,
                             "SignatureProvided": _printable(claim.signature[:128]),
                             "CanonicalRequest": _printable(canonical_request)})
    return Signed(key_id=claim.key_id, region=claim.region, date=claim.date, amz_date=claim.amz_date,
                  signature=expected, signing_key=key, payload=claim.payload, presigned=claim.presigned)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sigv2_refused() -> S3Error:
    return S3Error("InvalidRequest", f"the request is signed with AWS Signature Version 2, which this endpoint does "
                                     f"not accept: {_SIGV4_HINT}")


def _sigv4a_refused() -> S3Error:
    return S3Error("NotImplemented", f"SigV4a ({_ECDSA_ALGORITHM}) is not supported here: {_SIGV4_HINT}")


# --- aws-chunked bodies ---------------------------------------------------------------------------------

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)
_MAX_LINE = 4096  # a chunk header is ~90 bytes, a checksum trailer under 100
_MAX_TRAILERS = 16
_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_TRAILER_SIGNATURE = "x-amz-trailer-signature"


class ChunkedDecoder:
    """Strips `aws-chunked` framing from a body fed in pieces, checking chunk and trailer signatures.

    `feed` returns the payload bytes decoded so far as memoryviews, which may point into the piece
    just fed: use them before feeding the next one. `finish` at the end of the body returns the
    trailers (lowercase names). Either raises S3Error on a malformed or forged body."""

    def __init__(self, signed: Signed, *, max_chunk_bytes: int = 16 << 20) -> None:
        if signed.payload not in _STREAMING:
            raise ValueError(f"{signed.payload!r} is not an aws-chunked payload mode")
        self._signed = signed
        self._mode = signed.payload
        self._chunk_signed = signed.payload in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER)
        self._scope = f"{signed.date}/{signed.region}/{SERVICE}/{_TERMINATOR}"
        self._previous = signed.signature
        self._max_chunk = max_chunk_bytes
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._chunk_signature = ""
        self._chunk_hash = hashlib.sha256()
        self._pending = bytearray()
        self._chunks = 0
        self._trailers: dict[str, str] = {}
        self._trailer_signed = False
        self.decoded_bytes = 0

    def feed(self, data: bytes | memoryview) -> list[memoryview]:
        view = memoryview(data).cast("B")
        out: list[memoryview] = []
        pos = 0
        while pos < len(view):
            if self._state == _DATA:
                pos = self._data(view, pos, out)
            elif self._state == _DONE:
                raise self._malformed("bytes follow the end of the body (its final 0-size chunk and trailers)")
            else:
                line, pos = self._read_line(view, pos)
                if line is not None:
                    self._line_done(line)
        return out

    def finish(self) -> dict[str, str]:
        if self._state == _TRAILER and not self._line and (self._trailers or self._trailer_signed):
            self._trailer_line(b"")  # some clients end the body after the last trailer, without the blank line
        if self._state != _DONE:
            where = "before its final 0-size chunk" if self._state != _TRAILER else "inside its trailers"
            raise S3Error("IncompleteBody", f"the aws-chunked body ended {where} (after {self.decoded_bytes} bytes "
                                            "of data); nothing was stored: send the request again")
        return dict(self._trailers)

    def _read_line(self, view: memoryview, pos: int) -> tuple[bytes | None, int]:
        room = _MAX_LINE - len(self._line)
        window = view[pos:pos + room + 1].tobytes()
        end = window.find(b"\n")
        if end < 0:
            if len(window) > room:
                raise self._malformed(f"a framing line is longer than {_MAX_LINE} bytes")
            self._line += window
            return None, pos + len(window)
        self._line += window[:end]
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(b"\r"):
            raise self._malformed("a framing line ends in a bare LF instead of CRLF")
        return line[:-1], pos + end + 1

    def _line_done(self, line: bytes) -> None:
        if self._state == _SIZE:
            self._size_line(line)
        elif self._state == _DATA_END:
            if line:
                raise self._malformed(f"chunk {self._chunks} is longer than its declared size")
            self._state = _SIZE
        else:
            self._trailer_line(line)

    def _size_line(self, line: bytes) -> None:
        size_text, *extensions = line.split(b";")
        if not _HEX_SIZE.fullmatch(size_text.strip()):
            raise self._malformed(f"chunk {self._chunks + 1} starts with {line[:40]!r}, not a hex size")
        size = int(size_text, 16)
        self._chunks += 1
        if self._chunk_signed:
            self._start_signed_chunk(size, extensions)
        if size == 0:
            if self._chunk_signed:
                self._check_chunk(_EMPTY_SHA256)
            self._state = _TRAILER
        else:
            self._remaining = size
            self._state = _DATA

    def _start_signed_chunk(self, size: int, extensions: list[bytes]) -> None:
        signature = ""
        for extension in extensions:
            name, _, value = extension.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace").lower()
        if not _HEX64.fullmatch(signature):
            raise S3Error("SignatureDoesNotMatch", f"chunk {self._chunks} has no valid chunk-signature although "
                                                   f"x-amz-content-sha256 is {self._mode}: fix the client")
        if size > self._max_chunk:
            raise S3Error("InvalidRequest", f"chunk {self._chunks} declares {size} bytes, over this endpoint's limit "
                                            f"of {self._max_chunk} bytes per signed chunk: send smaller chunks "
                                            "(the SDKs send 64 KiB)")
        self._chunk_signature = signature
        self._chunk_hash = hashlib.sha256()

    def _data(self, view: memoryview, pos: int, out: list[memoryview]) -> int:
        take = min(self._remaining, len(view) - pos)
        piece = view[pos:pos + take]
        self._remaining -= take
        if self._chunk_signed:
            self._chunk_hash.update(piece)
            if self._remaining:
                self._pending += piece
            else:
                self._release_signed(piece, out)
        else:
            out.append(piece)
            self.decoded_bytes += take
        if not self._remaining:
            self._state = _DATA_END
        return pos + take

    def _release_signed(self, last: memoryview, out: list[memoryview]) -> None:
        """The chunk is complete: check its signature, then hand it out (whole, one view)."""
        self._check_chunk(self._chunk_hash.hexdigest())
        if self._pending:
            self._pending += last
            chunk = memoryview(self._pending)
            self._pending = bytearray()
        else:
            chunk = last
        out.append(chunk)
        self.decoded_bytes += len(chunk)

    def _check_chunk(self, data_sha256: str) -> None:
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self._signed.amz_date, self._scope, self._previous,
                                    _EMPTY_SHA256, data_sha256])
        expected = _hmac(self._signed.signing_key, string_to_sign).hex()
        if not hmac.compare_digest(expected, self._chunk_signature):
            raise S3Error("SignatureDoesNotMatch", f"the signature of chunk {self._chunks} of the aws-chunked body "
                                                   "does not match its data: the body was altered in transit or the "
                                                   "client chained its chunk signatures wrongly; send it again")
        self._previous = expected

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            if self._mode == STREAMING_SIGNED_TRAILER and not self._trailer_signed:
                raise S3Error("SignatureDoesNotMatch", "the body's trailers end without x-amz-trailer-signature "
                                                       f"although x-amz-content-sha256 is {self._mode}: fix the client")
            self._state = _DONE
            return
        if self._mode == STREAMING_SIGNED:
            raise self._malformed(f"it carries a trailer although x-amz-content-sha256 is {STREAMING_SIGNED} "
                                  f"(send {STREAMING_SIGNED_TRAILER} to use trailers)")
        if self._trailer_signed:
            raise self._malformed("a trailer follows x-amz-trailer-signature, which must come last")
        raw_name, colon, raw_value = line.partition(b":")
        name = raw_name.decode("utf-8", "surrogateescape").strip().lower()
        value = raw_value.decode("utf-8", "surrogateescape").strip()
        if not colon or not name:
            raise self._malformed(f"the trailer line {line[:60]!r} is not 'name:value'")
        if name == _TRAILER_SIGNATURE:
            self._check_trailer_signature(value)
        elif name in self._trailers or len(self._trailers) >= _MAX_TRAILERS:
            raise self._malformed(f"trailer {name!r} is repeated or one of more than {_MAX_TRAILERS} trailers")
        else:
            self._trailers[name] = value

    def _check_trailer_signature(self, signature: str) -> None:
        if self._mode != STREAMING_SIGNED_TRAILER:
            raise self._malformed(f"it carries {_TRAILER_SIGNATURE} although x-amz-content-sha256 is {self._mode}")
        canonical = "".join(f"{name}:{' '.join(value.split())}\n" for name, value in sorted(self._trailers.items()))
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self._signed.amz_date, self._scope, self._previous,
                                    _sha256_hex(canonical.encode("utf-8", "surrogateescape"))])
        expected = _hmac(self._signed.signing_key, string_to_sign).hex()
        if not hmac.compare_digest(expected.encode(), _wire_bytes(signature.lower())):
            raise S3Error("SignatureDoesNotMatch", "the x-amz-trailer-signature of the aws-chunked body does not match "
                                                   "its trailers: the trailers were altered in transit; send it again")
        self._trailer_signed = True

    def _malformed(self, what: str) -> S3Error:
        return S3Error("InvalidRequest", f"the aws-chunked body is malformed: {what}; nothing was stored: "
                                         "fix the client or the proxy in between")


# --- digests a body is checked against ------------------------------------------------------------------


class PayloadSha256:
    """The body's SHA-256 against the hex value its signature covers (x-amz-content-sha256)."""

    def __init__(self, expected_hex: str) -> None:
        if not _HEX64.fullmatch(expected_hex.lower()):
            raise S3Error("InvalidArgument", f"x-amz-content-sha256 {_printable(expected_hex[:80])!r} is not a hex "
                                             "SHA-256, UNSIGNED-PAYLOAD or a STREAMING- mode: fix the client")
        self._expected = expected_hex.lower()
        self._sha256 = hashlib.sha256()

    def update(self, data: bytes | memoryview) -> None:
        self._sha256.update(data)

    def check(self) -> None:
        actual = self._sha256.hexdigest()
        if not hmac.compare_digest(actual, self._expected):
            raise S3Error("XAmzContentSHA256Mismatch",
                          f"the body's SHA-256 {actual} is not the x-amz-content-sha256 {self._expected} the request "
                          "was signed with: the body was altered in transit; send the request again",
                          extra={"ClientComputedContentSHA256": self._expected, "S3ComputedContentSHA256": actual})


class ContentMd5:
    """The body's MD5 against its Content-MD5 header (base64 of the 16-byte digest)."""

    def __init__(self, b64: str) -> None:
        self._header = b64.strip()
        try:
            self._expected = base64.b64decode(self._header, validate=True)
        except ValueError:  # binascii.Error, or a str that is not ASCII
            self._expected = b""
        if len(self._expected) != 16:
            raise S3Error("InvalidDigest", f"the Content-MD5 {b64[:64]!r} is not the base64 of a 16-byte MD5 digest: "
                                           "send base64(md5(body)), not its hex")
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data: bytes | memoryview) -> None:
        self._md5.update(data)

    def check(self) -> None:
        actual = self._md5.digest()
        if not hmac.compare_digest(actual, self._expected):
            raise S3Error("BadDigest", f"the Content-MD5 you specified ({self._header}) did not match the body's "
                                       f"({base64.b64encode(actual).decode()}): the body was altered in transit; send "
                                       "the request again")


class _Hash(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | memoryview) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


class _CrtCrc:
    """CRC32C or CRC64/NVME, running, from the AWS Common Runtime's C implementations."""

    def __init__(self, fn: Callable[[bytes | memoryview, int], int], width_bytes: int) -> None:
        self._fn = fn
        self._width = width_bytes
        self._crc = 0

    def update(self, data: bytes | memoryview) -> None:
        self._crc = self._fn(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._width, "big")


def crc32c(data: bytes) -> int:
    return awscrt.checksums.crc32c(data)


def crc64nvme(data: bytes) -> int:
    return awscrt.checksums.crc64nvme(data)


_CHECKSUMS: dict[str, Callable[[], _Hash]] = {
    "crc32": _Crc32,
    "crc32c": lambda: _CrtCrc(awscrt.checksums.crc32c, 4),
    "crc64nvme": lambda: _CrtCrc(awscrt.checksums.crc64nvme, 8),
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


class ChecksumChecker:
    """One x-amz-checksum-* over the body, checked against the header's or trailer's base64 value."""

    def __init__(self, algorithm: str, digest: _Hash) -> None:
        self.algorithm = algorithm
        self.header = f"x-amz-checksum-{algorithm}"
        self._digest = digest

    def update(self, data: bytes | memoryview) -> None:
        self._digest.update(data)

    def b64digest(self) -> str:
        return base64.b64encode(self._digest.digest()).decode()

    def check(self, expected_b64: str) -> None:
        actual = self._digest.digest()
        try:
            expected = base64.b64decode(expected_b64.strip(), validate=True)
        except ValueError:  # binascii.Error, or a str that is not ASCII
            expected = b""
        if len(expected) != len(actual):
            raise S3Error("InvalidRequest", f"Value for {self.header} header is invalid: {expected_b64[:80]!r} is "
                                            f"not the base64 of a {len(actual)}-byte {self.algorithm.upper()}: "
                                            "fix the client")
        if not hmac.compare_digest(expected, actual):
            raise S3Error("BadDigest", f"The {self.algorithm.upper()} you specified ({expected_b64.strip()}) did not "
                                       f"match the calculated checksum ({self.b64digest()}): the body was altered in "
                                       "transit; send the request again")


def checksum_checker(name: str) -> ChecksumChecker:
    """A checker for `crc32`, `crc32c`, `crc64nvme`, `sha1` or `sha256` (or its x-amz-checksum-* header name)."""
    algorithm = name.strip().lower().removeprefix("x-amz-checksum-")
    factory = _CHECKSUMS.get(algorithm)
    if factory is None:
        raise S3Error("InvalidRequest", f"the checksum algorithm {name[:64]!r} is not supported; this endpoint checks "
                                        f"{', '.join(a.upper() for a in _CHECKSUMS)}: choose one of those")
    return ChecksumChecker(algorithm, factory())
