"""AWS Signature Version 4 on the client's side: presigned URLs for the S3 port (`nodectl presign`),
and the signing-key derivation the S3 port's checks (node/s3/sigv4.py) share with it.

A presigned URL carries its signature in the query string (X-Amz-Algorithm, -Credential, -Date,
-Expires, -SignedHeaders, -Signature) and signs only the host header, with an UNSIGNED-PAYLOAD, so
any HTTP client (curl, a browser, urllib) can use it until it expires: a GET reads the object, a
PUT stores its body there. The path is the bucket and key percent-encoded once, every byte but
A-Za-z0-9-._~ and the key's '/' (what S3 and the port expect); the URL's own query keeps exactly
that encoding.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EXPIRES_MAX_S = 7 * 24 * 3600


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The SigV4 signing key: the HMAC-SHA256 chain of the scope (date, region, service,
    aws4_request) over "AWS4" + secret."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def presign_url(endpoint: str, bucket: str, key: str, *, key_id: str, secret: str, method: str = "GET",
                expires_s: int = 900, region: str = "ringstore", now: datetime.datetime | None = None) -> str:
    """A URL that lets whoever holds it `method` (GET or PUT) `bucket`/`key` at `endpoint`
    (https://host:port) for `expires_s` seconds (1 s to 7 days), signed with the access key."""
    if method not in ("GET", "PUT", "HEAD", "DELETE"):
        raise ValueError(f"method {method!r}: presign GET, PUT, HEAD or DELETE")
    if not 1 <= expires_s <= EXPIRES_MAX_S:
        raise ValueError(f"a presigned URL lives 1 s to {EXPIRES_MAX_S} s (7 days), not {expires_s} s")
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint {endpoint!r} is not http(s)://HOST:PORT")
    moment = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
    amz_date, date = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
    scope = f"{date}/{region}/{SERVICE}/{TERMINATOR}"
    path = "/" + urllib.parse.quote(bucket, safe="") + "/" + urllib.parse.quote(key, safe="/")
    params = {"X-Amz-Algorithm": ALGORITHM, "X-Amz-Credential": f"{key_id}/{scope}", "X-Amz-Date": amz_date,
              "X-Amz-Expires": str(expires_s), "X-Amz-SignedHeaders": "host"}
    query = "&".join(f"{urllib.parse.quote(name, safe='')}={urllib.parse.quote(value, safe='')}"
                     for name, value in sorted(params.items()))
    canonical = "\n".join([method, path, query, f"host:{parts.netloc}", "", "host", UNSIGNED_PAYLOAD])
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret, date, region), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{parts.scheme}://{parts.netloc}{path}?{query}&X-Amz-Signature={signature}"
