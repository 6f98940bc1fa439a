"""SigV4 verification and aws-chunked decoding (node/s3/sigv4.py), against what botocore really
sends: requests signed by a botocore client (captured before they leave it), presigned URLs, its
aws-chunked unsigned-trailer bodies, and AWS's published signature examples (S3 docs and
aws-c-auth's chunked-signing test vectors)."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import io
import random
import time
import zlib
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, BaseChecksum
from multidict import CIMultiDict, CIMultiDictProxy

from node.s3 import sigv4
from node.s3.errors import S3Error

KEY = "RSTESTKEY0123456789"
SECRET = "s3cr3t/with+odd=chars"
REGION = "ringstore"
SECRETS = {KEY: SECRET}.get

# AWS's own examples: S3 API reference (sig-v4-header-based-auth, sigv4-query-string-auth,
# sigv4-streaming) and awslabs/aws-c-auth tests/test_chunked_signing.c.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRETS = {AWS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}.get
AWS_NOW = datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC).timestamp()
AWS_CREDENTIAL = f"{AWS_KEY}/20130524/us-east-1/s3/aws4_request"
AWS_CHUNKED_BODY = (b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
                    + b"a" * 65536 + b"\r\n"
                    + b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
                    + b"a" * 1024 + b"\r\n"
                    + b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n")


class _Captured(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def _client(endpoint: str = "http://127.0.0.1:9000", region: str = REGION, **config):
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      request_checksum_calculation="when_supported", **{"signature_version": "s3v4", **config}))

    def grab(request: AWSPreparedRequest, **_) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send.s3", grab)
    return client


@pytest.fixture(scope="module")
def client():
    return _client()


@pytest.fixture(scope="module")
def tls_client():
    """Over https botocore sends puts as aws-chunked with an unsigned CRC32 trailer."""
    return _client("https://127.0.0.1:9443")


def _capture(client, operation: str, **params) -> AWSPreparedRequest:
    with pytest.raises(_Captured) as caught:
        getattr(client, operation)(**params)
    return caught.value.request


def _wire(request: AWSPreparedRequest | AWSRequest) -> tuple[str, str, str, dict[str, str]]:
    """(method, raw path, raw query, headers) as a server receives them."""
    parts = urlsplit(request.url)
    headers = {name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}
    if not any(name.lower() == "host" for name in headers):
        headers["Host"] = parts.netloc  # urllib3 adds it; botocore signs it from the URL
    return request.method, parts.path, parts.query, headers


def _verify(method: str, path: str, query: str, headers, *, now: float | None = None, region: str = REGION,
            secrets: Callable[[str], str | None] = SECRETS) -> sigv4.Signed | None:
    return sigv4.verify(method, path, query, headers, secret_for=secrets, region=region, now=now)


def _refused(code: str, fn: Callable[[], object]) -> S3Error:
    with pytest.raises(S3Error) as caught:
        fn()
    err = caught.value
    assert err.code == code, (err.code, err.message)
    assert "\n" not in err.message and err.message.strip() == err.message
    assert SECRET not in err.message and SECRET not in str(err.extra)
    return err


def _sign(method: str, url: str, headers: dict[str, str] | None = None, *, payload: str | None = None,
          service: str = "s3", region: str = REGION) -> AWSRequest:
    """An AWSRequest signed by botocore's S3 signer; `payload` forces the x-amz-content-sha256 it signs."""
    class Signer(S3SigV4Auth):
        def payload(self, request):
            return payload if payload is not None else super().payload(request)

    request = AWSRequest(method=method, url=url, headers=headers or {}, data=b"")
    Signer(Credentials(KEY, SECRET), service, region).add_auth(request)
    return request


# --- AWS's published examples ---------------------------------------------------------------------


def test_aws_documented_get_object_example_verifies() -> None:
    headers = {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9", "x-amz-date": "20130524T000000Z",
               "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               # no spaces after the commas: AWS accepts both
               "Authorization": f"AWS4-HMAC-SHA256 Credential={AWS_CREDENTIAL},SignedHeaders=host;range;"
                                "x-amz-content-sha256;x-amz-date,Signature="
                                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}
    signed = _verify("GET", "/test.txt", "", headers, now=AWS_NOW, region="us-east-1", secrets=AWS_SECRETS)
    assert signed is not None
    assert (signed.key_id, signed.region, signed.date, signed.amz_date, signed.presigned) == (
        AWS_KEY, "us-east-1", "20130524", "20130524T000000Z", False)
    assert signed.signing_key == sigv4.sign_request_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524",
                                                        "us-east-1")
    assert "signing_key" not in repr(signed)


def test_aws_documented_presigned_example_verifies() -> None:
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
             "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
             "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    signed = _verify("GET", "/test.txt", query, {"host": "examplebucket.s3.amazonaws.com"}, now=AWS_NOW + 3600,
                     region="us-east-1", secrets=AWS_SECRETS)
    assert signed is not None and signed.presigned and signed.payload == sigv4.UNSIGNED_PAYLOAD


def test_aws_documented_signing_key_derivation() -> None:
    key = sigv4.sign_request_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def _aws_streaming_seed() -> sigv4.Signed:
    headers = {"Host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
               "x-amz-storage-class": "REDUCED_REDUNDANCY", "Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": "66560", "Content-Length": "66824",
               "x-amz-content-sha256": sigv4.STREAMING_SIGNED,
               "Authorization": f"AWS4-HMAC-SHA256 Credential={AWS_CREDENTIAL}, SignedHeaders=content-encoding;"
                                "content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                                "x-amz-storage-class, Signature="
                                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}
    signed = _verify("PUT", "/examplebucket/chunkObject.txt", "", headers, now=AWS_NOW, region="us-east-1",
                     secrets=AWS_SECRETS)
    assert signed is not None and signed.payload == sigv4.STREAMING_SIGNED
    return signed


def test_aws_documented_streaming_example_decodes() -> None:
    decoder = sigv4.ChunkedDecoder(_aws_streaming_seed())
    assert b"".join(decoder.feed(AWS_CHUNKED_BODY + b"\r\n")) == b"a" * 66560
    assert decoder.finish() == {}
    assert decoder.decoded_bytes == 66560


def test_aws_c_auth_trailer_signature_vector() -> None:
    """aws-c-auth's sigv4_trailing_headers_signing_test: the same chunks, then three signed trailers."""
    signed = dataclasses.replace(_aws_streaming_seed(), payload=sigv4.STREAMING_SIGNED_TRAILER)
    trailer = (b"first:1st\r\nsecond:2nd\r\nthird:3rd\r\n"
               b"x-amz-trailer-signature:df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c\r\n\r\n")
    decoder = sigv4.ChunkedDecoder(signed)
    assert b"".join(decoder.feed(AWS_CHUNKED_BODY + trailer)) == b"a" * 66560
    assert decoder.finish() == {"first": "1st", "second": "2nd", "third": "3rd"}
    forged = sigv4.ChunkedDecoder(signed)
    forged.feed(AWS_CHUNKED_BODY)
    _refused("SignatureDoesNotMatch", lambda: forged.feed(trailer.replace(b"2nd", b"2ND")))


# --- requests signed by a botocore client ---------------------------------------------------------

KEYS = ["plain.txt", "with space.txt", "ünïcødé/文件 ☃.bin", "a+b=c.txt", "bang!.txt", "it's.txt", "tilde~x",
        "double//slash", "dots/../up", "./here/.", "star*(paren)", "percent%41.txt", "semi;colon,comma@at",
        "hash#q?mark&amp", "trailing/"]


@pytest.mark.parametrize("key", KEYS)
def test_botocore_get_and_put_with_awkward_keys_verify(client, key: str) -> None:
    get = _capture(client, "get_object", Bucket="bucket", Key=key, Range="bytes=0-9")
    method, path, query, headers = _wire(get)
    signed = _verify(method, path, query, headers)
    assert signed is not None and signed.key_id == KEY and not signed.presigned
    assert _verify(method, path, query, CIMultiDictProxy(CIMultiDict(headers))) == signed

    put = _capture(client, "put_object", Bucket="bucket", Key=key, Body=b"hello world")
    signed = _verify(*_wire(put))
    assert signed is not None and signed.payload == hashlib.sha256(b"hello world").hexdigest()
    check = sigv4.PayloadSha256(signed.payload)
    check.update(b"hello ")
    check.update(memoryview(b"world"))
    check.check()


@pytest.mark.parametrize(("operation", "params", "expected_query"), [
    ("list_objects_v2", {"Prefix": "a/b", "Delimiter": "/"},
     "list-type=2&prefix=a%2Fb&delimiter=%2F&encoding-type=url"),
    ("list_objects_v2", {"Prefix": "sp ace+plus/ü=?&"}, None),
    ("create_multipart_upload", {"Key": "big.bin"}, "uploads"),
    ("get_bucket_acl", {}, "acl"),
    ("list_object_versions", {"KeyMarker": "k~1", "MaxKeys": 5}, None),
])
def test_botocore_query_strings_verify(client, operation: str, params: dict, expected_query: str | None) -> None:
    method, path, query, headers = _wire(_capture(client, operation, Bucket="bucket", **params))
    if expected_query is not None:
        assert query == expected_query
    assert _verify(method, path, query, headers) is not None


def test_the_canonical_form_does_not_depend_on_how_reserved_characters_were_encoded() -> None:
    """Signed with everything encoded; received with a proxy's or another SDK's lighter encoding."""
    request = _sign("GET", "http://127.0.0.1:9000/bucket/it%27s%21%20%28x%29?prefix=a%2Fb%20c&delimiter=%2F")
    _, _, _, headers = _wire(request)
    for path, query in [("/bucket/it%27s%21%20%28x%29", "prefix=a%2Fb%20c&delimiter=%2F"),
                        ("/bucket/it's!%20(x)", "delimiter=/&prefix=a/b+c"),
                        ("/bucket/%69t's%21%20(x)", "prefix=a%2fb%20c&delimiter=%2f")]:
        assert _verify("GET", path, query, headers) is not None, (path, query)
    _refused("SignatureDoesNotMatch", lambda: _verify("GET", "/bucket/it's!%2520(x)", "prefix=a/b c&delimiter=/",
                                                     headers))
    # aiohttp's raw_path carries the query: it is not part of the canonical path
    assert _verify("GET", "/bucket/it's!%20(x)?ignored", "prefix=a/b+c&delimiter=/", headers) is not None


def test_the_date_header_can_stand_in_for_x_amz_date() -> None:
    request = _sign("GET", "http://127.0.0.1:9000/bucket/key", {"Date": "placeholder"})
    _, path, query, headers = _wire(request)
    assert "X-Amz-Date" not in headers
    signed = _verify("GET", path, query, headers)
    assert signed is not None and signed.amz_date[:8] == signed.date


def test_no_credentials_is_anonymous(client) -> None:
    assert _verify("GET", "/bucket/key", "", {"Host": "h"}) is None
    assert _verify("GET", "/bucket", "list-type=2&prefix=x", {"Host": "h"}) is None


def test_a_wrong_secret_does_not_match_and_says_what_was_signed(client) -> None:
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k"))
    err = _refused("SignatureDoesNotMatch", lambda: _verify(method, path, query, headers,
                                                            secrets={KEY: "other"}.get))
    assert err.status == 403
    assert err.extra["AWSAccessKeyId"] == KEY
    assert err.extra["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert err.extra["CanonicalRequest"].startswith("GET\n/bucket/k\n\n")


def test_an_unknown_key_is_invalid_access_key_id(client) -> None:
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k"))
    err = _refused("InvalidAccessKeyId", lambda: _verify(method, path, query, headers, secrets=lambda _: None))
    assert err.status == 403


def test_a_wrong_region_names_the_expected_one() -> None:
    client = _client(region="us-east-1")
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k"))
    err = _refused("AuthorizationHeaderMalformed", lambda: _verify(method, path, query, headers))
    assert err.status == 400 and err.extra == {"Region": REGION}
    assert "'us-east-1' is wrong" in err.message and f"configure the client's region as '{REGION}'" in err.message
    url = urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "k"}))
    err = _refused("AuthorizationQueryParametersError",
                   lambda: _verify("GET", url.path, url.query, {"host": url.netloc}))
    assert err.extra == {"Region": REGION}


def test_another_service_or_a_malformed_credential_is_refused() -> None:
    method, path, query, headers = _wire(_sign("GET", "http://127.0.0.1:9000/bucket/k", service="ec2"))
    assert "service 'ec2'" in _refused("AuthorizationHeaderMalformed",
                                       lambda: _verify(method, path, query, headers)).message
    for credential in (f"{KEY}/20130524/{REGION}/s3", f"{KEY}/2013-05-24/{REGION}/s3/aws4_request",
                       f"{KEY}/20130524/{REGION}/s3/aws5_request"):
        bad = dict(headers, Authorization=f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, "
                                          f"Signature={'0' * 64}")
        _refused("AuthorizationHeaderMalformed", lambda: _verify(method, path, query, bad))
    bad = dict(headers, Authorization=f"AWS4-HMAC-SHA256 Credential={KEY}/20130524/{REGION}/s3/aws4_request")
    assert "SignedHeaders, Signature" in _refused("AuthorizationHeaderMalformed",
                                                  lambda: _verify(method, path, query, bad)).message


def test_a_scope_date_other_than_the_request_date_is_refused() -> None:
    headers = {"Host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
               "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
               "Authorization": f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/20130523/us-east-1/s3/aws4_request, "
                                f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"}
    _refused("AuthorizationHeaderMalformed", lambda: _verify("GET", "/test.txt", "", headers, now=AWS_NOW,
                                                             region="us-east-1", secrets=AWS_SECRETS))


def test_clock_skew_beyond_15_minutes_is_refused(client) -> None:
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k"))
    assert _verify(method, path, query, headers, now=time.time() + 14 * 60) is not None
    assert _verify(method, path, query, headers, now=time.time() - 14 * 60) is not None
    err = _refused("RequestTimeTooSkewed", lambda: _verify(method, path, query, headers, now=time.time() + 17 * 60))
    assert err.status == 403 and "minutes behind the server's clock (limit 15 minutes)" in err.message
    assert set(err.extra) == {"RequestTime", "ServerTime", "MaxAllowedSkewMilliseconds"}
    err = _refused("RequestTimeTooSkewed", lambda: _verify(method, path, query, headers, now=time.time() - 17 * 60))
    assert "ahead of the server's clock" in err.message


def test_tampering_with_what_was_signed_is_detected(client) -> None:
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k", Range="bytes=0-9"))
    assert _verify(method, path, query, headers) is not None
    _refused("SignatureDoesNotMatch", lambda: _verify(method, path, query, dict(headers, Range="bytes=0-99")))
    _refused("SignatureDoesNotMatch", lambda: _verify(method, path + "x", query, headers))
    _refused("SignatureDoesNotMatch", lambda: _verify(method, path, "acl", headers))
    _refused("SignatureDoesNotMatch", lambda: _verify("DELETE", path, query, headers))
    unranged = {name: value for name, value in headers.items() if name != "Range"}
    assert "'range'" in _refused("SignatureDoesNotMatch", lambda: _verify(method, path, query, unranged)).message
    seconds = "58Z" if headers["X-Amz-Date"].endswith("59Z") else "59Z"  # another second than it was signed at
    later = dict(headers, **{"X-Amz-Date": headers["X-Amz-Date"][:-3] + seconds})
    _refused("SignatureDoesNotMatch", lambda: _verify(method, path, query, later))
    # a header that was not UTF-8 (aiohttp hands it over surrogate-escaped) still makes an XML answer
    not_utf8 = dict(headers, Authorization=headers["Authorization"].replace(";x-amz-date", ";x-amz-date;x-amz-meta-x"),
                    **{"x-amz-meta-x": b"caf\xe9".decode("utf-8", "surrogateescape")})
    err = _refused("SignatureDoesNotMatch", lambda: _verify(method, path, query, not_utf8))
    assert "x-amz-meta-x:caf\ufffd" in err.extra["CanonicalRequest"] and err.xml()


def test_required_headers_and_signed_host(client) -> None:
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k"))
    unhosted = dict(headers, Authorization=headers["Authorization"].replace("SignedHeaders=host;", "SignedHeaders="))
    err = _refused("AccessDenied", lambda: _verify(method, path, query, unhosted))
    assert err.extra == {"HeadersNotSigned": "host"}
    no_sha = {name: value for name, value in headers.items() if name.lower() != "x-amz-content-sha256"}
    assert "x-amz-content-sha256" in _refused("InvalidRequest", lambda: _verify(method, path, query, no_sha)).message
    no_date = {name: value for name, value in headers.items() if name.lower() != "x-amz-date"}
    _refused("AccessDenied", lambda: _verify(method, path, query, no_date))
    _refused("AccessDenied", lambda: _verify(method, path, query, dict(no_date, **{"X-Amz-Date": "yesterday"})))
    _refused("InvalidArgument", lambda: _verify(method, path, query, dict(no_sha, **{"X-Amz-Content-SHA256": "abc"})))


def test_other_schemes_are_refused_with_the_reason(client) -> None:
    method, path, query, headers = _wire(_capture(client, "get_object", Bucket="bucket", Key="k"))
    # botocore's SigV2 ("s3"), which it also uses by default to presign for us-east-1
    sigv2 = _client(signature_version="s3")
    v2 = _wire(_capture(sigv2, "get_object", Bucket="bucket", Key="k"))
    assert v2[3]["Authorization"].startswith(f"AWS {KEY}:")
    assert "Signature Version 4" in _refused("InvalidRequest", lambda: _verify(*v2)).message
    url = urlsplit(sigv2.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}))
    assert "AWSAccessKeyId=" in url.query
    err = _refused("InvalidRequest", lambda: _verify("GET", url.path, url.query, {"Host": url.netloc}))
    assert "signature_version 's3v4'" in err.message
    _refused("InvalidArgument", lambda: _verify(method, path, "X-Amz-Signature=00", headers))
    _refused("InvalidArgument", lambda: _verify(method, path, query, dict(headers, Authorization="Bearer abc")))
    ecdsa = dict(headers, Authorization=headers["Authorization"].replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"))
    _refused("NotImplemented", lambda: _verify(method, path, query, ecdsa))


# --- presigned URLs -------------------------------------------------------------------------------


def _presigned(client, expires: int, operation: str = "get_object", **params) -> tuple[str, str, dict[str, str]]:
    url = urlsplit(client.generate_presigned_url(operation, Params={"Bucket": "bucket", "Key": "k ü!", **params},
                                                 ExpiresIn=expires))
    return url.path, url.query, {"host": url.netloc}


def test_a_presigned_url_verifies_until_it_expires(client) -> None:
    path, query, headers = _presigned(client, 7200)
    signed = _verify("GET", path, query, headers)
    assert signed is not None and signed.presigned and signed.payload == sigv4.UNSIGNED_PAYLOAD
    # older than the 15-minute skew, but within its expiry: still good
    assert _verify("GET", path, query, headers, now=time.time() + 3600) is not None
    err = _refused("AccessDenied", lambda: _verify("GET", path, query, headers, now=time.time() + 7300))
    assert err.message.startswith("Request has expired: the presigned URL expired at ")
    assert set(err.extra) == {"X-Amz-Expires", "Expires", "ServerTime"} and err.extra["X-Amz-Expires"] == "7200"
    err = _refused("AccessDenied", lambda: _verify("GET", path, query, headers, now=time.time() - 20 * 60))
    assert "not valid yet" in err.message
    _refused("SignatureDoesNotMatch", lambda: _verify("GET", path, query.replace("X-Amz-Expires=7200",
                                                                                  "X-Amz-Expires=7300"), headers))
    _refused("SignatureDoesNotMatch", lambda: _verify("PUT", path, query, headers))


def test_a_presigned_put_verifies(client) -> None:
    path, query, headers = _presigned(client, 600, "put_object")
    signed = _verify("PUT", path, query, dict(headers, **{"content-length": "5"}))
    assert signed is not None and signed.payload == sigv4.UNSIGNED_PAYLOAD


@pytest.mark.parametrize("expires", [sigv4.PRESIGN_EXPIRES_MAX_S + 1, 0])
def test_a_presigned_expiry_outside_one_second_to_seven_days_is_refused(client, expires: int) -> None:
    # botocore's CRT presigner will not make a URL that expires at once: one of 1 s, edited, stands in
    path, query, headers = _presigned(client, expires or 1)
    query = query if expires else query.replace("X-Amz-Expires=1&", "X-Amz-Expires=0&")
    assert expires or "X-Amz-Expires=0&" in query
    err = _refused("AuthorizationQueryParametersError", lambda: _verify("GET", path, query, headers))
    assert "604800" in err.message


def test_a_presigned_url_missing_parameters_is_refused(client) -> None:
    path, query, headers = _presigned(client, 600)
    stripped = "&".join(part for part in query.split("&") if not part.startswith("X-Amz-Date="))
    assert "X-Amz-Date" in _refused("AuthorizationQueryParametersError",
                                    lambda: _verify("GET", path, stripped, headers)).message


# --- aws-chunked bodies ---------------------------------------------------------------------------


def _pieces(body: bytes, sizes: Iterator[int]) -> Iterator[bytes]:
    pos = 0
    while pos < len(body):
        size = next(sizes)
        yield body[pos:pos + size]
        pos += size


def _decode(signed: sigv4.Signed, body: bytes, sizes: Iterator[int] | None = None,
            **options) -> tuple[bytes, dict[str, str]]:
    decoder = sigv4.ChunkedDecoder(signed, **options)
    out = bytearray()
    for piece in ([body] if sizes is None else _pieces(body, sizes)):
        for view in decoder.feed(piece):
            out += view
    trailers = decoder.finish()
    assert decoder.decoded_bytes == len(out)
    return bytes(out), trailers


def _random_sizes(seed: int, top: int) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.randint(1, top)


def _every_way(signed: sigv4.Signed, body: bytes, one_byte: bool = True) -> tuple[bytes, dict[str, str]]:
    """Decodes whole, in random pieces (and a byte at a time): the same output every way."""
    whole = _decode(signed, body)
    for seed in range(3):
        assert _decode(signed, body, _random_sizes(seed, 70_000)) == whole
    if one_byte:
        assert _decode(signed, body, iter(lambda: 1, 0)) == whole
    return whole


def _streaming_signed(mode: str) -> sigv4.Signed:
    """A request signed by botocore with x-amz-content-sha256 `mode`, as verified."""
    request = _sign("PUT", "http://127.0.0.1:9000/bucket/chunked", {"Content-Encoding": "aws-chunked"}, payload=mode)
    signed = _verify(*_wire(request))
    assert signed is not None and signed.payload == mode
    return signed


def _chunk_signing_key(signed: sigv4.Signed) -> bytes:
    """The signing key derived here from the secret, independently of the module's derivation."""
    key = ("AWS4" + SECRET).encode()
    for part in (signed.date, signed.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signed_body(signed: sigv4.Signed, data: bytes, chunk: int = 65536,
                 trailers: dict[str, str] | None = None) -> bytes:
    """An aws-chunked body with chunk signatures, as the S3 docs (sigv4-streaming, -trailers) describe it."""
    key = _chunk_signing_key(signed)
    scope = f"{signed.date}/{signed.region}/s3/aws4_request"
    previous = signed.signature

    def sign(kind: str, *hashes: str) -> str:
        nonlocal previous
        text = "\n".join([kind, signed.amz_date, scope, previous, *hashes])
        previous = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        return previous

    empty = hashlib.sha256(b"").hexdigest()
    body = bytearray()
    for start in [*range(0, len(data), chunk), len(data)]:
        piece = data[start:start + chunk]
        signature = sign("AWS4-HMAC-SHA256-PAYLOAD", empty, hashlib.sha256(piece).hexdigest())
        body += f"{len(piece):x};chunk-signature={signature}\r\n".encode()
        if piece:
            body += piece + b"\r\n"
    if trailers is None:
        return bytes(body + b"\r\n")
    canonical = "".join(f"{name}:{value}\n" for name, value in sorted(trailers.items()))
    for name, value in trailers.items():
        body += f"{name}:{value}\r\n".encode()
    signature = sign("AWS4-HMAC-SHA256-TRAILER", hashlib.sha256(canonical.encode()).hexdigest())
    return bytes(body + f"x-amz-trailer-signature:{signature}\r\n\r\n".encode())


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def test_botocore_unsigned_trailer_body_decodes(tls_client) -> None:
    data = random.Random(1).randbytes((5 << 20) // 2 + 7)  # three of botocore's 1 MiB chunks
    request = _capture(tls_client, "put_object", Bucket="bucket", Key="k", Body=data)
    method, path, query, headers = _wire(request)
    signed = _verify(method, path, query, headers)
    assert signed is not None and signed.payload == sigv4.STREAMING_UNSIGNED_TRAILER
    body = request.body.read()
    assert body.endswith(b"\r\n0\r\nx-amz-checksum-crc32:" + _b64(zlib.crc32(data).to_bytes(4, "big")).encode()
                         + b"\r\n\r\n")
    decoded, trailers = _every_way(signed, body, one_byte=False)
    assert decoded == data and list(trailers) == [headers["X-Amz-Trailer"]] == ["x-amz-checksum-crc32"]
    assert headers["X-Amz-Decoded-Content-Length"] == str(len(decoded))
    checker = sigv4.checksum_checker(headers["X-Amz-Trailer"])
    checker.update(decoded)
    checker.check(trailers["x-amz-checksum-crc32"])


class _BotocoreCrc32c(BaseChecksum):
    """CRC32C for botocore's AwsChunkedWrapper (botocore itself needs awscrt for it)."""

    def __init__(self) -> None:
        self._checker = sigv4.checksum_checker("crc32c")

    def update(self, chunk: bytes) -> None:
        self._checker.update(chunk)

    def digest(self) -> bytes:
        return base64.b64decode(self._checker.b64digest())


def test_botocore_framed_crc32c_trailer_body_decodes_a_byte_at_a_time() -> None:
    data = b"a" * 66560  # the AWS example's body, whose CRC32C the docs give as sOO8/Q==
    wrapper = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=_BotocoreCrc32c,
                                checksum_name="x-amz-checksum-crc32c", chunk_size=65536)
    body = wrapper.read()
    assert body.endswith(b"0\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n\r\n")
    decoded, trailers = _every_way(_streaming_signed(sigv4.STREAMING_UNSIGNED_TRAILER), body)
    assert decoded == data and trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_signed_streaming_body_decodes_every_way() -> None:
    signed = _streaming_signed(sigv4.STREAMING_SIGNED)
    data = random.Random(2).randbytes(3 * 65536 + 13)
    decoded, trailers = _every_way(signed, _signed_body(signed, data))
    assert decoded == data and trailers == {}
    assert _every_way(signed, _signed_body(signed, b"")) == (b"", {})


def test_signed_streaming_body_with_signed_trailer() -> None:
    signed = _streaming_signed(sigv4.STREAMING_SIGNED_TRAILER)
    data = random.Random(3).randbytes(100_000)
    checker = sigv4.checksum_checker("crc64nvme")
    checker.update(data)
    body = _signed_body(signed, data, trailers={"x-amz-checksum-crc64nvme": checker.b64digest()})
    decoded, trailers = _every_way(signed, body)
    assert decoded == data and trailers == {"x-amz-checksum-crc64nvme": checker.b64digest()}
    tampered = body.replace(checker.b64digest().encode(), b"AAAAAAAAAAA=")
    _refused("SignatureDoesNotMatch", lambda: _decode(signed, tampered))
    unsigned = body[:body.index(b"x-amz-trailer-signature")] + b"\r\n"
    _refused("SignatureDoesNotMatch", lambda: _decode(signed, unsigned))


def test_a_tampered_chunk_is_refused_before_its_data_is_released() -> None:
    signed = _streaming_signed(sigv4.STREAMING_SIGNED)
    data = bytes(3 * 65536)
    body = bytearray(_signed_body(signed, data))
    body[body.index(b"\r\n", 65536 + 100) + 100] ^= 1  # a byte inside the second chunk
    decoder = sigv4.ChunkedDecoder(signed)
    released = bytearray()
    with pytest.raises(S3Error) as caught:
        for piece in _pieces(bytes(body), _random_sizes(4, 5000)):
            for view in decoder.feed(piece):
                released += view
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.status == 403
    assert released == data[:65536]


def test_signed_chunks_must_carry_a_signature_and_fit_the_limit() -> None:
    signed = _streaming_signed(sigv4.STREAMING_SIGNED)
    body = _signed_body(signed, bytes(65536))
    _refused("SignatureDoesNotMatch", lambda: _decode(signed, b"10\r\n" + bytes(16) + b"\r\n"))
    err = _refused("InvalidRequest", lambda: _decode(signed, body, max_chunk_bytes=1024))
    assert "limit of 1024 bytes" in err.message
    wrong_seed = dataclasses.replace(signed, signature="0" * 64)
    _refused("SignatureDoesNotMatch", lambda: _decode(wrong_seed, body))


def test_a_truncated_body_is_incomplete() -> None:
    signed = _streaming_signed(sigv4.STREAMING_SIGNED)
    body = _signed_body(signed, bytes(2 * 65536 + 5))
    for cut in (0, 10, 90, 65536, len(body) - 200, len(body) - 2, len(body) - 1):
        _refused("IncompleteBody", lambda: _decode(signed, body[:cut]))
    unsigned = _streaming_signed(sigv4.STREAMING_UNSIGNED_TRAILER)
    _refused("IncompleteBody", lambda: _decode(unsigned, b"5\r\nhello\r\n"))
    _refused("IncompleteBody", lambda: _decode(unsigned, b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:"))


def test_a_trailer_without_the_closing_blank_line_is_accepted() -> None:
    unsigned = _streaming_signed(sigv4.STREAMING_UNSIGNED_TRAILER)
    assert _decode(unsigned, b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n") == (
        b"hello", {"x-amz-checksum-crc32": "NhCmhg=="})
    assert _decode(unsigned, b"5\r\nhello\r\n0\r\n\r\n") == (b"hello", {})


@pytest.mark.parametrize("body", [
    b"5\r\nhello\r\n0\r\n\r\nextra",  # bytes after the end
    b"5\r\nhello!\r\n0\r\n\r\n",  # a chunk longer than declared
    b"5\nhello\r\n0\r\n\r\n",  # a bare LF
    b"zz\r\nhello\r\n0\r\n\r\n",  # not a hex size
    b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n",
    b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:A\r\nx-amz-checksum-crc32:B\r\n\r\n",  # a repeated trailer
    b"5\r\nhello\r\n0\r\nx-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n",  # a signature in unsigned mode
    b"1" * 5000 + b"\r\n",  # an endless size line
])
def test_malformed_framing_is_refused(body: bytes) -> None:
    unsigned = _streaming_signed(sigv4.STREAMING_UNSIGNED_TRAILER)
    _refused("InvalidRequest", lambda: _decode(unsigned, body))


def test_trailers_need_a_trailer_mode() -> None:
    signed = _streaming_signed(sigv4.STREAMING_SIGNED)
    body = _signed_body(signed, b"hello")[:-2] + b"x-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    assert "TRAILER" in _refused("InvalidRequest", lambda: _decode(signed, body)).message


def test_unsigned_chunks_are_released_as_they_arrive() -> None:
    decoder = sigv4.ChunkedDecoder(_streaming_signed(sigv4.STREAMING_UNSIGNED_TRAILER))
    assert [bytes(view) for view in decoder.feed(b"10000\r\n" + b"x" * 1000)] == [b"x" * 1000]
    assert decoder.decoded_bytes == 1000


def test_the_decoder_is_only_for_streaming_modes() -> None:
    with pytest.raises(ValueError):
        sigv4.ChunkedDecoder(dataclasses.replace(_streaming_signed(sigv4.STREAMING_SIGNED),
                                                 payload=sigv4.UNSIGNED_PAYLOAD))


# --- body digests ---------------------------------------------------------------------------------


def test_payload_sha256_mismatch() -> None:
    check = sigv4.PayloadSha256(hashlib.sha256(b"signed body").hexdigest())
    check.update(b"another body")
    err = _refused("XAmzContentSHA256Mismatch", check.check)
    assert err.extra["S3ComputedContentSHA256"] == hashlib.sha256(b"another body").hexdigest()


def test_content_md5() -> None:
    good = sigv4.ContentMd5(_b64(hashlib.md5(b"body").digest()))
    good.update(b"bo")
    good.update(memoryview(b"dy"))
    good.check()
    bad = sigv4.ContentMd5(_b64(hashlib.md5(b"other").digest()))
    bad.update(b"body")
    _refused("BadDigest", bad.check)
    for header in (hashlib.md5(b"body").hexdigest(), "not base64!", _b64(b"short"), "ünïcødé"):
        _refused("InvalidDigest", lambda: sigv4.ContentMd5(header))


def test_crc_check_values() -> None:
    assert sigv4.crc32c(b"123456789") == 0xE3069283
    assert sigv4.crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert sigv4.crc32c(b"") == 0 and sigv4.crc64nvme(b"") == 0
    assert _b64(sigv4.crc32c(b"a" * 66560).to_bytes(4, "big")) == "sOO8/Q=="  # the AWS trailer example


@pytest.mark.parametrize(("name", "reference"), [
    ("crc32", lambda data: zlib.crc32(data).to_bytes(4, "big")),
    ("CRC32C", lambda data: sigv4.crc32c(data).to_bytes(4, "big")),
    ("x-amz-checksum-crc64nvme", lambda data: sigv4.crc64nvme(data).to_bytes(8, "big")),
    ("sha1", lambda data: hashlib.sha1(data).digest()),
    ("sha256", lambda data: hashlib.sha256(data).digest()),
])
def test_checksum_checkers(name: str, reference: Callable[[bytes], bytes]) -> None:
    data = random.Random(5).randbytes(10_000)
    checker = sigv4.checksum_checker(name)
    for start in range(0, len(data), 777):
        checker.update(memoryview(data)[start:start + 777])
    assert checker.b64digest() == _b64(reference(data))
    checker.check(_b64(reference(data)))
    err = _refused("BadDigest", lambda: checker.check(_b64(reference(b"other"))))
    assert err.message.startswith(f"The {checker.algorithm.upper()} you specified")
    _refused("InvalidRequest", lambda: checker.check("not base64"))
    _refused("InvalidRequest", lambda: checker.check("AAAA\udcff=="))  # a trailer that was not UTF-8
    _refused("InvalidRequest", lambda: checker.check(_b64(reference(data) + b"x")))


def test_an_unsupported_checksum_is_refused() -> None:
    assert "CRC32C" in _refused("InvalidRequest", lambda: sigv4.checksum_checker("xxhash64")).message
