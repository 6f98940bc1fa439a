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
from node.store.versions import show_version_id
from ringstore.etag import etag as object_etag
from ringstore.v1 import common_pb2

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


def versioning(status: str = "") -> bytes:
    """GetBucketVersioning: "Enabled", "Suspended", or "" for a bucket never versioned (no Status)."""
    result = root("VersioningConfiguration")
    if status:
        _element(result, "Status", status)
    return render(result)


def parse_versioning(body: bytes) -> str:
    """"Enabled" or "Suspended" from a PutBucketVersioning body; MalformedXML for anything else."""
    document = parse(body, "PutBucketVersioning")
    if local(document.tag) != "VersioningConfiguration":
        raise S3Error("MalformedXML", "a PutBucketVersioning body is a <VersioningConfiguration> document")
    status = text_of(document, "Status").strip()
    if status not in ("Enabled", "Suspended"):
        raise S3Error("MalformedXML", f"versioning Status {status[:40]!r} is not Enabled or Suspended")
    if text_of(document, "MfaDelete").strip() == "Enabled":
        raise S3Error("NotImplemented", "MFA delete is not supported; leave MfaDelete out")
    return status


def bucket_encryption() -> bytes:
    """GetBucketEncryption of a bucket that encrypts at rest: SSE-S3 (AES256), bucket keys off."""
    result = root("ServerSideEncryptionConfiguration")
    rule = ET.SubElement(result, "Rule")
    default = ET.SubElement(rule, "ApplyServerSideEncryptionByDefault")
    _element(default, "SSEAlgorithm", "AES256")
    _element(rule, "BucketKeyEnabled", False)
    return render(result)


def parse_bucket_encryption(body: bytes) -> str:
    """"AES256" from a PutBucketEncryption body; NotImplemented for aws:kms, MalformedXML for
    anything but one rule."""
    document = parse(body, "PutBucketEncryption")
    if local(document.tag) != "ServerSideEncryptionConfiguration":
        raise S3Error("MalformedXML", "a PutBucketEncryption body is a <ServerSideEncryptionConfiguration> document")
    rules = children(document, "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML", f"a PutBucketEncryption body has one Rule, not {len(rules)}")
    defaults = children(rules[0], "ApplyServerSideEncryptionByDefault")
    algorithm = text_of(defaults[0], "SSEAlgorithm").strip() if defaults else ""
    if algorithm.startswith("aws:kms"):
        raise S3Error("NotImplemented", f"SSEAlgorithm {algorithm} is not supported (there is no KMS): use AES256, "
                                        "which encrypts at rest under the cluster's keys")
    if algorithm != "AES256":
        raise S3Error("MalformedXML", f"SSEAlgorithm {algorithm[:40]!r} is not AES256")
    return algorithm


def _paging(result: ET.Element, max_keys: int, delimiter: str, encoding_type: str, truncated: bool) -> None:
    """The elements every listing document carries after its markers."""
    _element(result, "MaxKeys", max_keys)
    if delimiter:
        _element(result, "Delimiter", encode_key(delimiter, encoding_type))
    if encoding_type:
        _element(result, "EncodingType", encoding_type)
    _element(result, "IsTruncated", truncated)


def list_versions(*, bucket: str, prefix: str, delimiter: str, max_keys: int, encoding_type: str,
                  key_marker: str, version_id_marker: str, entries: list, truncated: bool,
                  owner_tenant: str = "") -> bytes:
    """ListVersionsResult. `entries`: (manifest, is_latest) and common prefixes (str), in order."""
    enc = lambda text: encode_key(text, encoding_type)  # noqa: E731
    result = root("ListVersionsResult")
    _element(result, "Name", bucket)
    _element(result, "Prefix", enc(prefix))
    _element(result, "KeyMarker", enc(key_marker))
    _element(result, "VersionIdMarker", version_id_marker)
    if truncated and entries:
        last = entries[-1]
        _element(result, "NextKeyMarker", enc(last if isinstance(last, str) else last[0].key))
        _element(result, "NextVersionIdMarker", "" if isinstance(last, str) else show_version_id(last[0].version_id))
    _paging(result, max_keys, delimiter, encoding_type, truncated)
    for entry in entries:
        if isinstance(entry, str):
            _element(_element(result, "CommonPrefixes"), "Prefix", enc(entry))
            continue
        manifest, latest = entry
        element = _element(result, "DeleteMarker" if manifest.tombstone else "Version")
        _element(element, "Key", enc(manifest.key))
        _element(element, "VersionId", show_version_id(manifest.version_id))
        _element(element, "IsLatest", latest)
        _element(element, "LastModified", iso_time(manifest.created_at_unix_ms))
        if not manifest.tombstone:
            _element(element, "ETag", etag_header(manifest))
            _element(element, "Size", manifest.size_bytes)
            _element(element, "StorageClass", "STANDARD")
        owner(element, owner_tenant)
    return render(result)


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
    _paging(result, max_keys, delimiter, encoding_type, truncated)
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
    """The object's ETag, unquoted (ringstore.etag says which form)."""
    return object_etag(manifest.md5, manifest.part_count, manifest.blake3, manifest.chunks_blake3)


def etag_header(manifest) -> str:
    return f'"{etag(manifest)}"'


def delete_result(deleted: list, errors: list[tuple[str, S3Error]], quiet: bool, encoding_type: str) -> bytes:
    """DeleteResult. `deleted`: keys, or (key, version id asked, delete marker version id written)."""
    result = root("DeleteResult")
    if not quiet:
        for entry in deleted:
            key, asked, marker = (entry, "", "") if isinstance(entry, str) else entry
            element = _element(result, "Deleted")
            _element(element, "Key", encode_key(key, encoding_type))
            if asked:
                _element(element, "VersionId", asked)
            if marker:
                _element(element, "DeleteMarker", True)
                _element(element, "DeleteMarkerVersionId", marker)
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


def parse_delete(body: bytes) -> tuple[list[tuple[str, str]], bool]:
    """((key, version id or ""), quiet) of a DeleteObjects request."""
    document = parse(body, "DeleteObjects")
    if local(document.tag) != "Delete":
        raise S3Error("MalformedXML", "a DeleteObjects body is a <Delete> document with <Object><Key> entries")
    keys = [(text_of(entry, "Key"), text_of(entry, "VersionId").strip()) for entry in children(document, "Object")]
    quiet = text_of(document, "Quiet", "false").strip().lower() == "true"
    return keys, quiet


def parse_location(body: bytes) -> str:
    """The LocationConstraint of a CreateBucket body ("" when there is none)."""
    if not body.strip():
        return ""
    document = parse(body, "CreateBucket")
    return text_of(document, "LocationConstraint").strip()


def initiate_upload(bucket: str, key: str, upload_id: str) -> bytes:
    result = root("InitiateMultipartUploadResult")
    _element(result, "Bucket", bucket)
    _element(result, "Key", key)
    _element(result, "UploadId", upload_id)
    return render(result)


def complete_upload(location: str, bucket: str, key: str, etag_quoted: str) -> bytes:
    result = root("CompleteMultipartUploadResult")
    _element(result, "Location", location)
    _element(result, "Bucket", bucket)
    _element(result, "Key", key)
    _element(result, "ETag", etag_quoted)
    return render(result)


def list_parts(bucket: str, key: str, upload_id: str, parts: list, *, after: int, limit: int, truncated: bool,
               owner_tenant: str, encoding_type: str) -> bytes:
    """ListPartsResult; `parts` are (number, part manifest)."""
    result = root("ListPartsResult")
    _element(result, "Bucket", bucket)
    _element(result, "Key", encode_key(key, encoding_type))
    _element(result, "UploadId", upload_id)
    owner(result, owner_tenant, "Initiator")
    owner(result, owner_tenant)
    _element(result, "StorageClass", "STANDARD")
    _element(result, "PartNumberMarker", after)
    if parts:
        _element(result, "NextPartNumberMarker", parts[-1][0])
    _element(result, "MaxParts", limit)
    _element(result, "IsTruncated", truncated)
    for number, manifest in parts:
        part = _element(result, "Part")
        _element(part, "PartNumber", number)
        _element(part, "LastModified", iso_time(manifest.created_at_unix_ms))
        _element(part, "ETag", f'"{manifest.md5.hex()}"')
        _element(part, "Size", manifest.size_bytes)
    return render(result)


def list_uploads(bucket: str, uploads: list, *, prefix: str, key_marker: str, upload_id_marker: str, limit: int,
                 truncated: bool, owner_tenant: str, encoding_type: str, common_prefixes: list[str] = (),
                 delimiter: str = "") -> bytes:
    """ListMultipartUploadsResult; `uploads` are (key, upload id, upload record), `common_prefixes`
    the keys rolled up by `delimiter`."""
    enc = lambda text: encode_key(text, encoding_type)  # noqa: E731
    result = root("ListMultipartUploadsResult")
    _element(result, "Bucket", bucket)
    _element(result, "KeyMarker", enc(key_marker))
    _element(result, "UploadIdMarker", upload_id_marker)
    if truncated and uploads:
        _element(result, "NextKeyMarker", enc(uploads[-1][0]))
        _element(result, "NextUploadIdMarker", uploads[-1][1])
    _element(result, "Prefix", enc(prefix))
    if delimiter:
        _element(result, "Delimiter", enc(delimiter))
    if encoding_type:
        _element(result, "EncodingType", encoding_type)
    _element(result, "MaxUploads", limit)
    _element(result, "IsTruncated", truncated)
    for key, upload_id, record in uploads:
        upload = _element(result, "Upload")
        _element(upload, "Key", enc(key))
        _element(upload, "UploadId", upload_id)
        owner(upload, owner_tenant, "Initiator")
        owner(upload, owner_tenant)
        _element(upload, "StorageClass", "STANDARD")
        _element(upload, "Initiated", iso_time(record.created_at_unix_ms))
    for common in common_prefixes:
        _element(_element(result, "CommonPrefixes"), "Prefix", enc(common))
    return render(result)


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """(part number, ETag) of each part a CompleteMultipartUpload body lists, in its order."""
    document = parse(body, "CompleteMultipartUpload")
    if local(document.tag) != "CompleteMultipartUpload":
        raise S3Error("MalformedXML", "a CompleteMultipartUpload body is a <CompleteMultipartUpload> document with "
                                      "<Part><PartNumber> and <ETag> entries")
    listed = []
    for part in children(document, "Part"):
        number = text_of(part, "PartNumber").strip()
        if not number.isdigit():
            raise S3Error("MalformedXML", f"a listed part's PartNumber {number[:20]!r} is not a whole number")
        listed.append((int(number), text_of(part, "ETag")))
    return listed


def copy_result(etag_quoted: str, modified_ms: int) -> bytes:
    result = root("CopyObjectResult")
    _element(result, "LastModified", iso_time(modified_ms))
    _element(result, "ETag", etag_quoted)
    return render(result)


def copy_part_result(etag_quoted: str, modified_ms: int) -> bytes:
    result = root("CopyPartResult")
    _element(result, "LastModified", iso_time(modified_ms))
    _element(result, "ETag", etag_quoted)
    return render(result)


# -- tags ---------------------------------------------------------------------------------------------


def tagging(tags: dict[str, str]) -> bytes:
    """GetObjectTagging / GetBucketTagging."""
    result = root("Tagging")
    tag_set = _element(result, "TagSet")
    for name, value in sorted(tags.items()):
        tag = _element(tag_set, "Tag")
        _element(tag, "Key", name)
        _element(tag, "Value", value)
    return render(result)


def parse_tagging(body: bytes) -> dict[str, str]:
    """The tags of a PutObjectTagging / PutBucketTagging body."""
    document = parse(body, "PutObjectTagging")
    if local(document.tag) != "Tagging":
        raise S3Error("MalformedXML", "a tagging body is a <Tagging><TagSet><Tag>... document")
    tags: dict[str, str] = {}
    for tag_set in children(document, "TagSet"):
        for tag in children(tag_set, "Tag"):
            name = text_of(tag, "Key")
            if name in tags:
                raise S3Error("InvalidTag", f"tag key {name[:60]!r} is given twice")
            tags[name] = text_of(tag, "Value")
    return tags


def parse_tagging_header(text: str) -> dict[str, str]:
    """The tags of an x-amz-tagging header (a URL-encoded query string)."""
    tags: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        if name in tags:
            raise S3Error("InvalidTag", f"tag key {name[:60]!r} is given twice")
        tags[name] = value
    return tags


def _tag_filters(parent: ET.Element, rule: common_pb2.LifecycleRule, where: str) -> None:
    for tag in children(parent, "Tag"):
        rule.tags[text_of(tag, "Key")] = text_of(tag, "Value")


# -- lifecycle ----------------------------------------------------------------------------------------

_LIFECYCLE_RULE_ELEMENTS = {"ID", "Status", "Filter", "Prefix", "Expiration", "NoncurrentVersionExpiration",
                            "AbortIncompleteMultipartUpload", "Transition"}


def _only(element: ET.Element, allowed: set[str], where: str) -> None:
    for child in element:
        if local(child.tag) not in allowed:
            raise S3Error("MalformedXML", f"{where}: <{local(child.tag)}> is not one this endpoint reads "
                                          f"({', '.join(sorted(allowed))})")


def _whole(text: str, where: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 2 ** 32:
        raise S3Error("InvalidArgument", f"{where} must be a whole number of days >= 1, got {text[:20]!r}")
    return int(text)


def _storage_policy(text: str, where: str) -> common_pb2.RedundancyPolicy:
    """A transition's StorageClass: here it names a redundancy policy, `ec=K+M` or `replicas=N`."""
    text = text.strip()
    if text.startswith("replicas=") and text.removeprefix("replicas=").isdigit():
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=int(text[9:])))
    if text.startswith("ec="):
        k, _, m = text[3:].partition("+")
        if k.isdigit() and m.isdigit():
            return common_pb2.RedundancyPolicy(
                erasure_coding=common_pb2.ErasureCoding(data_shares=int(k), parity_shares=int(m)))
    raise S3Error("InvalidStorageClass", f"{where}: storage class {text[:40]!r} is not one of this cluster's: a "
                                         "transition names a redundancy policy, ec=K+M or replicas=N", status=400)


def parse_lifecycle(body: bytes) -> list[common_pb2.LifecycleRule]:
    """The rules of a PutBucketLifecycleConfiguration body (the subset node/objects/lifecycle.py
    keeps); MalformedXML for an element it does not read, InvalidArgument for a bad value."""
    document = parse(body, "PutBucketLifecycleConfiguration")
    if local(document.tag) != "LifecycleConfiguration":
        raise S3Error("MalformedXML", "a lifecycle body is a <LifecycleConfiguration> document of <Rule> elements")
    _only(document, {"Rule"}, "LifecycleConfiguration")
    rules = []
    for index, element in enumerate(children(document, "Rule")):
        where = f"rule {index + 1}"
        _only(element, _LIFECYCLE_RULE_ELEMENTS, where)
        status = text_of(element, "Status").strip()
        if status not in ("Enabled", "Disabled"):
            raise S3Error("MalformedXML", f"{where}: <Status> is Enabled or Disabled, got {status[:20]!r}")
        rule = common_pb2.LifecycleRule(id=text_of(element, "ID").strip() or f"rule-{index + 1}",
                                        enabled=status == "Enabled", prefix=text_of(element, "Prefix"))
        for filtered in children(element, "Filter"):
            _only(filtered, {"Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}, f"{where} Filter")
            if children(filtered, "ObjectSizeGreaterThan") or children(filtered, "ObjectSizeLessThan"):
                raise S3Error("NotImplemented", f"{where}: lifecycle filters by size are not supported yet; "
                                                "filter by Prefix and Tag")
            rule.prefix = text_of(filtered, "Prefix")
            _tag_filters(filtered, rule, where)
            for both in children(filtered, "And"):
                _only(both, {"Prefix", "Tag"}, f"{where} Filter And")
                rule.prefix = text_of(both, "Prefix")
                _tag_filters(both, rule, where)
        for expiration in children(element, "Expiration"):
            _only(expiration, {"Days", "Date", "ExpiredObjectDeleteMarker"}, f"{where} Expiration")
            if children(expiration, "Days"):
                rule.expiration_days = _whole(text_of(expiration, "Days"), f"{where} Expiration Days")
            if children(expiration, "Date"):
                try:
                    moment = dt.datetime.fromisoformat(text_of(expiration, "Date").strip().replace("Z", "+00:00"))
                except ValueError:
                    raise S3Error("InvalidArgument", f"{where}: Expiration Date is not an ISO 8601 date") from None
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.timezone.utc)
                rule.expiration_date_unix_ms = int(moment.timestamp() * 1000)
            rule.expired_delete_markers = text_of(expiration, "ExpiredObjectDeleteMarker").strip() == "true"
        for noncurrent in children(element, "NoncurrentVersionExpiration"):
            _only(noncurrent, {"NoncurrentDays", "NewerNoncurrentVersions"}, f"{where} NoncurrentVersionExpiration")
            rule.noncurrent_days = _whole(text_of(noncurrent, "NoncurrentDays"), f"{where} NoncurrentDays")
            if children(noncurrent, "NewerNoncurrentVersions"):
                rule.noncurrent_newer_kept = _whole(text_of(noncurrent, "NewerNoncurrentVersions"),
                                                    f"{where} NewerNoncurrentVersions")
        for abort in children(element, "AbortIncompleteMultipartUpload"):
            _only(abort, {"DaysAfterInitiation"}, f"{where} AbortIncompleteMultipartUpload")
            rule.abort_uploads_days = _whole(text_of(abort, "DaysAfterInitiation"), f"{where} DaysAfterInitiation")
        for transition in children(element, "Transition"):
            _only(transition, {"Days", "StorageClass"}, f"{where} Transition")
            rule.transition_days = _whole(text_of(transition, "Days"), f"{where} Transition Days")
            rule.transition_policy.CopyFrom(_storage_policy(text_of(transition, "StorageClass"), where))
        rules.append(rule)
    return rules


def _policy_text(policy: common_pb2.RedundancyPolicy) -> str:
    if policy.WhichOneof("policy") == "erasure_coding":
        return f"ec={policy.erasure_coding.data_shares}+{policy.erasure_coding.parity_shares}"
    return f"replicas={policy.replication.replicas}"


def lifecycle(rules: Iterable[common_pb2.LifecycleRule]) -> bytes:
    """GetBucketLifecycleConfiguration."""
    result = root("LifecycleConfiguration")
    for rule in rules:
        element = _element(result, "Rule")
        _element(element, "ID", rule.id)
        filtered = _element(element, "Filter")
        if rule.tags:
            filtered = _element(filtered, "And")
        _element(filtered, "Prefix", rule.prefix)
        for name, value in sorted(rule.tags.items()):
            tag = _element(filtered, "Tag")
            _element(tag, "Key", name)
            _element(tag, "Value", value)
        _element(element, "Status", "Enabled" if rule.enabled else "Disabled")
        if rule.expiration_days or rule.expiration_date_unix_ms or rule.expired_delete_markers:
            expiration = _element(element, "Expiration")
            if rule.expiration_days:
                _element(expiration, "Days", rule.expiration_days)
            if rule.expiration_date_unix_ms:
                _element(expiration, "Date", iso_time(rule.expiration_date_unix_ms))
            if rule.expired_delete_markers:
                _element(expiration, "ExpiredObjectDeleteMarker", True)
        if rule.noncurrent_days:
            noncurrent = _element(element, "NoncurrentVersionExpiration")
            _element(noncurrent, "NoncurrentDays", rule.noncurrent_days)
            if rule.noncurrent_newer_kept:
                _element(noncurrent, "NewerNoncurrentVersions", rule.noncurrent_newer_kept)
        if rule.abort_uploads_days:
            _element(_element(element, "AbortIncompleteMultipartUpload"), "DaysAfterInitiation", rule.abort_uploads_days)
        if rule.transition_days:
            transition = _element(element, "Transition")
            _element(transition, "Days", rule.transition_days)
            _element(transition, "StorageClass", _policy_text(rule.transition_policy))
    return render(result)
