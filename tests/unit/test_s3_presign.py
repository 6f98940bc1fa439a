"""Presigned URLs made on the client's side (ringstore.auth.s3sign, `nodectl presign`) verify on the
S3 port's side (node.s3.sigv4), for awkward keys too, until they expire and for their method only.
(botocore's own presigned URLs are checked against the port in test_s3_sigv4 and test_s3_live.)"""

from __future__ import annotations

import datetime
import urllib.parse

import pytest

from node.s3 import sigv4
from node.s3.errors import S3Error
from ringstore.auth import s3sign

KEY_ID, SECRET = "RKAAAAAAAAAAAAAAAAAA", "a-secret_of-40-characters-0123456789abcd"
ENDPOINT = "https://127.0.0.1:7480"
NOW = datetime.datetime(2026, 12, 4, 21, 0, 0, tzinfo=datetime.timezone.utc)


def _verify(url: str, method: str, at: datetime.datetime) -> sigv4.Signed | None:
    parts = urllib.parse.urlsplit(url)
    return sigv4.verify(method, parts.path, parts.query, {"host": parts.netloc},
                        secret_for=lambda key_id: SECRET if key_id == KEY_ID else None, region="ringstore",
                        now=at.timestamp())


@pytest.mark.parametrize("key", ["plain", "dir/sub/file name ü+!'()*.txt", "a//b/../c", "~tilde=eq&amp"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_presigned_url_verifies_and_matches_botocore(key, method):
    url = s3sign.presign_url(ENDPOINT, "bucket", key, key_id=KEY_ID, secret=SECRET, method=method, expires_s=900,
                             now=NOW)
    signed = _verify(url, method, NOW + datetime.timedelta(seconds=899))
    assert signed is not None and signed.presigned and signed.key_id == KEY_ID
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"] and query["X-Amz-SignedHeaders"] == ["host"]
    assert urllib.parse.unquote(urllib.parse.urlsplit(url).path) == f"/bucket/{key}"


def test_an_expired_or_wrong_method_url_is_refused():
    url = s3sign.presign_url(ENDPOINT, "bucket", "k", key_id=KEY_ID, secret=SECRET, expires_s=60, now=NOW)
    with pytest.raises(S3Error) as info:
        _verify(url, "GET", NOW + datetime.timedelta(seconds=61))
    assert info.value.code == "AccessDenied"
    with pytest.raises(S3Error) as info:
        _verify(url, "PUT", NOW)
    assert info.value.code == "SignatureDoesNotMatch"


def test_bad_arguments_say_what_to_give():
    with pytest.raises(ValueError, match="7 days"):
        s3sign.presign_url(ENDPOINT, "b", "k", key_id=KEY_ID, secret=SECRET, expires_s=8 * 24 * 3600)
    with pytest.raises(ValueError, match="HOST:PORT"):
        s3sign.presign_url("127.0.0.1:7480", "b", "k", key_id=KEY_ID, secret=SECRET)
