"""The XML documents of the S3 API: answers built here, request bodies parsed here.

Request bodies are parsed with the standard library's expat-based ElementTree (Python 3.11 ships
an expat that refuses entity-expansion bombs), only after the gateway has bounded their size
(XML_BODY_BYTES_MAX), and every element is looked up by local name so a client may send the S3
namespace or none.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from email.utils import format_datetime

from node.s3.errors import S3Error

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_BODY_BYTES_MAX = 2 * 1024 * 1024
# Everyone, as S3 names the grantee of a public-read bucket.
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def iso_time(unix_ms: int) -> str:
    """S3's timestamp in listings: 2026-12-04T21:34:08.000Z."""
    moment = dt.datetime.fromtimestamp(unix_ms / 1000, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def http_time(unix_ms: int) -> str:
    """An HTTP date (Last-Modified): Fri, 04 Dec 2026 21:34:08 GMT."""
    return format_datetime(dt.datetime.fromtimestamp(unix_ms // 1000, tz=dt.timezone.utc), usegmt=True)


def _element(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = str(text).lower() if isinstance(text, bool) else str(text)
    return child


def render(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def root(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=NAMESPACE)


def owner(parent: ET.Element, tenant: str, tag: str = "Owner") -> None:
    element = _element(parent, tag)
    _element(element, "ID", tenant or "ringstore")
    _element(element, "DisplayName", tenant or "ringstore")


def list_buckets(buckets: Iterable[tuple[str, int]], tenant: str) -> bytes:
    result = root("ListAllMyBucketsResult")
    owner(result, tenant)
    listed = _element(result, "Buckets")
    for name, created_ms in buckets:
        bucket = _element(listed, "Bucket")
        _element(bucket, "Name", name)
        _element(bucket, "CreationDate", iso_time(created_ms))
    return render(result)


def location(region: str) -> bytes:
    result = ET.Element("LocationConstraint", xmlns=NAMESPACE)
    result.text = region
    return render(result)


def bucket_acl(owner_tenant: str, public_read: bool) -> bytes:
    result = root("AccessControlPolicy")
    owner(result, owner_tenant)
    grants = _element(result, "AccessControlList")
    for grantee_kind, who, permission in ([("CanonicalUser", owner_tenant, "FULL_CONTROL")]
                                          + ([("Group", ALL_USERS, "READ")] if public_read else [])):
        grant = _element(grants, "Grant")
        grantee = ET.SubElement(grant, "Grantee", {"xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                                   "xsi:type": grantee_kind})
        if grantee_kind == "Group":
            _element(grantee, "URI", who)
        else:
            _element(grantee, "ID", who or "ringstore")
            _element(grantee, "DisplayName", who or "ringstore")
        _element(grant, "Permission", permission)
    return render(result)


def versioning() -> bytes:
    return render(root("VersioningConfiguration"))


def encode_key(text: str, encoding_type: str) -> str:
    return urllib.parse.quote(text, safe="/") if encoding_type == "url" else text


def list_objects(*, bucket: str, prefix: str, delimiter: str, max_keys: int, encoding_type: str,
                 entries: list, truncated: bool, version: int, marker: str = "", next_marker: str = "",
                 start_after: str = "", token: str = "", next_token: str = "", fetch_owner: bool = False,
                 owner_tenant: str = "") -> bytes:
    """ListBucketResult, v1 (`version` 1) or v2. `entries`: manifests and common prefixes (str), in
    key order."""
    enc = lambda text: encode_key(text, encoding_type)  # noqa: E731
    result = root("ListBucketResult")
    _element(result, "Name", bucket)
    _element(result, "Prefix", enc(prefix))
    if version == 1:
        _element(result, "Marker", enc(marker))
        if truncated and next_marker:
            _element(result, "NextMarker", enc(next_marker))
    else:
        if start_after:
            _element(result, "StartAfter", enc(start_after))
        if token:
            _element(result, "ContinuationToken", token)
        if truncated and next_token:
            _element(result, "NextContinuationToken", next_token)
        _element(result, "KeyCount", len(entries))
    _element(result, "MaxKeys", max_keys)
    if delimiter:
        _element(result, "Delimiter", enc(delimiter))
    if encoding_type:
        _element(result, "EncodingType", encoding_type)
    _element(result, "IsTruncated", truncated)
    for entry in entries:
        if isinstance(entry, str):
            _element(_element(result, "CommonPrefixes"), "Prefix", enc(entry))
            continue
        contents = _element(result, "Contents")
        _element(contents, "Key", enc(entry.key))
        _element(contents, "LastModified", iso_time(entry.created_at_unix_ms))
        _element(contents, "ETag", etag_header(entry))
        _element(contents, "Size", entry.size_bytes)
        _element(contents, "StorageClass", "STANDARD")
        if version == 1 or fetch_owner:
            owner(contents, owner_tenant)
    return render(result)


def etag(manifest) -> str:
    """The object's ETag, unquoted: the MD5 of its bytes when the put recorded one (every put
    through this gateway), else the first 128 bits of its blake3 with a `-1` suffix, the form S3
    gives objects whose ETag is not an MD5 of the content (so clients that compare ETags with an
    MD5 of their file, as rclone does, know not to)."""
    if manifest.md5:
        return manifest.md5.hex()
    return manifest.blake3[:16].hex() + "-1"


def etag_header(manifest) -> str:
    return f'"{etag(manifest)}"'


def delete_result(deleted: list[str], errors: list[tuple[str, S3Error]], quiet: bool, encoding_type: str) -> bytes:
    result = root("DeleteResult")
    if not quiet:
        for key in deleted:
            _element(_element(result, "Deleted"), "Key", encode_key(key, encoding_type))
    for key, err in errors:
        element = _element(result, "Error")
        _element(element, "Key", encode_key(key, encoding_type))
        _element(element, "Code", err.code)
        _element(element, "Message", err.message)
    return render(result)


def parse(body: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as err:
        raise S3Error("MalformedXML", f"the {what} body is not well-formed XML ({err}); fix it and send it "
                                      "again") from None


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if local(child.tag) == name]


def text_of(element: ET.Element, name: str, default: str = "") -> str:
    found = children(element, name)
    return (found[0].text or "") if found else default


def parse_delete(body: bytes) -> tuple[list[str], bool]:
    """(keys, quiet) of a DeleteObjects request."""
    document = parse(body, "DeleteObjects")
    if local(document.tag) != "Delete":
        raise S3Error("MalformedXML", "a DeleteObjects body is a <Delete> document with <Object><Key> entries")
    keys = [text_of(entry, "Key") for entry in children(document, "Object")]
    quiet = text_of(document, "Quiet", "false").strip().lower() == "true"
    return keys, quiet


def parse_location(body: bytes) -> str:
    """The LocationConstraint of a CreateBucket body ("" when there is none)."""
    if not body.strip():
        return ""
    document = parse(body, "CreateBucket")
    return text_of(document, "LocationConstraint").strip()
