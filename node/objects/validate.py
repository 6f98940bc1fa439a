"""Checks on user input, with one-line messages that say what was wrong and what is allowed.

Every string a client sends in an ObjectService request has a named limit here, in UTF-8 bytes
(what the node stores and sends on; a character count would let 4-byte characters quadruple it):

    bucket           BUCKET_NAME_RE: 3..63 of a-z 0-9 -
    key              1..KEY_LENGTH_BYTES_MAX (config key_length_bytes_max may lower it), no NUL
    prefix           0..KEY_LENGTH_BYTES_MAX, no NUL (a longer prefix matches no key)
    page_token       0..PAGE_TOKEN_BYTES_MAX (the base64 of a key: the node issues it)
    content_type     0..CONTENT_TYPE_BYTES_MAX, no control characters
    metadata         at most METADATA_ENTRIES_MAX entries; each name 1..METADATA_KEY_BYTES_MAX,
                     each value 0..METADATA_VALUE_BYTES_MAX, no control characters in names; all
                     names and values together at most METADATA_BYTES_MAX
    page_size        0 (LIST_PAGE_SIZE_DEFAULT) .. LIST_PAGE_SIZE_MAX

Why limits on small strings: each is stored in every manifest copy (metadata_replicas of them),
sent in every listing and every stat. Before these limits a 1 MiB content type was accepted and
stored three times; the gRPC message limit (8 MiB) was the only bound. Rejected alternative:
relying on that message limit, which bounds a request but not what every copy and listing carries
forever after.
"""

from __future__ import annotations

import math
import re

from node import errors

BUCKET_NAME_RE = re.compile(r"^[a-z0-9-]{3,63}$")
# Longest object key in UTF-8 bytes the wire contract allows; StorageConfig.key_length_bytes_max
# may only lower it. The store keeps keys of any length (see node/store/keys.py).
KEY_LENGTH_BYTES_MAX = 1024
# A page token is the urlsafe base64 of the last key of a page: 4 characters per 3 bytes.
PAGE_TOKEN_BYTES_MAX = 4 * math.ceil(KEY_LENGTH_BYTES_MAX / 3)
# Longest content type: RFC 6838 allows 127 characters each for type and subtype, plus parameters.
CONTENT_TYPE_BYTES_MAX = 256
# Most entries one ListObjects page may ask for.
LIST_PAGE_SIZE_MAX = 10_000
LIST_PAGE_SIZE_DEFAULT = 1000
# Most user metadata entries, the longest name and value, and their total size on one object.
METADATA_ENTRIES_MAX = 64
METADATA_KEY_BYTES_MAX = 128
METADATA_VALUE_BYTES_MAX = 2 * 1024
METADATA_BYTES_MAX = 8 * 1024
# Characters of a bad value quoted back in a message.
QUOTED_CHARS_MAX = 40
# HTTP representation headers an object may record (Manifest.headers), as S3 keeps them.
HTTP_HEADER_NAMES = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
HTTP_HEADER_VALUE_BYTES_MAX = 1024
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _quoted(text: str) -> str:
    shown = text if len(text) <= QUOTED_CHARS_MAX else text[:QUOTED_CHARS_MAX] + "..."
    return repr(shown)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidArgument(f"{what} is not valid UTF-8") from None


def bucket_name(name: str) -> str:
    if not BUCKET_NAME_RE.match(name):
        raise errors.InvalidArgument(
            f"bucket name {_quoted(name)} is invalid: use 3 to 63 characters from a-z, 0-9 and '-'")
    return name


def object_key(key: str, key_length_bytes_max: int) -> str:
    if not key:
        raise errors.InvalidArgument("object key is empty: give a key of 1 to "
                                     f"{key_length_bytes_max} UTF-8 bytes")
    encoded = _utf8(key, "object key")
    if len(encoded) > key_length_bytes_max:
        raise errors.InvalidArgument(
            f"object key is {len(encoded)} bytes; the limit is {key_length_bytes_max} UTF-8 bytes")
    if "\0" in key:
        raise errors.InvalidArgument("object key contains a NUL character, which keys may not hold")
    return key


def prefix(text: str, key_length_bytes_max: int) -> str:
    """A listing prefix: at most as long as a key, no NUL."""
    encoded = _utf8(text, "prefix")
    if len(encoded) > key_length_bytes_max:
        raise errors.InvalidArgument(
            f"prefix is {len(encoded)} bytes; the limit is {key_length_bytes_max} UTF-8 bytes "
            "(no longer key exists)")
    if "\0" in text:
        raise errors.InvalidArgument("prefix contains a NUL character, which keys may not hold")
    return text


def page_token(token: str) -> str:
    if len(_utf8(token, "page_token")) > PAGE_TOKEN_BYTES_MAX:
        raise errors.InvalidArgument(
            f"page_token is {len(token.encode())} bytes, longer than any this cluster issues "
            f"({PAGE_TOKEN_BYTES_MAX}); start again without it")
    return token


def content_type(text: str) -> str:
    encoded = _utf8(text, "content type")
    if len(encoded) > CONTENT_TYPE_BYTES_MAX:
        raise errors.InvalidArgument(
            f"content type is {len(encoded)} bytes; the limit is {CONTENT_TYPE_BYTES_MAX} UTF-8 "
            "bytes")
    if _CONTROL_RE.search(text):
        raise errors.InvalidArgument(
            f"content type {_quoted(text)} contains a control character; use a MIME type such "
            "as text/plain")
    return text


def metadata(entries: dict[str, str]) -> None:
    if len(entries) > METADATA_ENTRIES_MAX:
        raise errors.InvalidArgument(
            f"{len(entries)} metadata entries; the limit is {METADATA_ENTRIES_MAX}")
    size = 0
    for name, value in entries.items():
        name_bytes = len(_utf8(name, "metadata name"))
        value_bytes = len(_utf8(value, f"metadata value of {_quoted(name)}"))
        if not 1 <= name_bytes <= METADATA_KEY_BYTES_MAX:
            raise errors.InvalidArgument(
                f"metadata name {_quoted(name)} is {name_bytes} bytes; give 1 to "
                f"{METADATA_KEY_BYTES_MAX} UTF-8 bytes")
        if _CONTROL_RE.search(name):
            raise errors.InvalidArgument(
                f"metadata name {_quoted(name)} contains a control character")
        if value_bytes > METADATA_VALUE_BYTES_MAX:
            raise errors.InvalidArgument(
                f"metadata value of {_quoted(name)} is {value_bytes} bytes; the limit is "
                f"{METADATA_VALUE_BYTES_MAX} UTF-8 bytes")
        size += name_bytes + value_bytes
    if size > METADATA_BYTES_MAX:
        raise errors.InvalidArgument(
            f"metadata is {size} bytes in all; the limit is {METADATA_BYTES_MAX}")


# S3's limits on tags: an object takes 10, a bucket 50; keys 1..128 characters, values 0..256.
OBJECT_TAGS_MAX = 10
BUCKET_TAGS_MAX = 50
TAG_KEY_CHARS_MAX = 128
TAG_VALUE_CHARS_MAX = 256


def tags(entries: dict[str, str], *, most: int = OBJECT_TAGS_MAX, what: str = "an object") -> None:
    """InvalidTag unless `entries` are tags S3 would take."""
    if len(entries) > most:
        raise errors.InvalidTag(f"{len(entries)} tags; {what} takes at most {most}")
    for key, value in entries.items():
        if not 1 <= len(key) <= TAG_KEY_CHARS_MAX:
            raise errors.InvalidTag(f"tag key {_quoted(key)} is {len(key)} characters; give 1 to {TAG_KEY_CHARS_MAX}")
        if len(value) > TAG_VALUE_CHARS_MAX:
            raise errors.InvalidTag(f"the value of tag {_quoted(key)} is {len(value)} characters; the limit is "
                                    f"{TAG_VALUE_CHARS_MAX}")
        if _CONTROL_RE.search(key) or _CONTROL_RE.search(value):
            raise errors.InvalidTag(f"tag {_quoted(key)} contains a control character")


def http_headers(entries: dict[str, str]) -> None:
    for name, value in entries.items():
        if name not in HTTP_HEADER_NAMES:
            raise errors.InvalidArgument(
                f"header {_quoted(name)} cannot be recorded with an object; use one of "
                f"{', '.join(HTTP_HEADER_NAMES)}, or user metadata")
        encoded = _utf8(value, f"header {name}")
        if len(encoded) > HTTP_HEADER_VALUE_BYTES_MAX:
            raise errors.InvalidArgument(
                f"header {name} is {len(encoded)} bytes; the limit is {HTTP_HEADER_VALUE_BYTES_MAX}")
        if _CONTROL_RE.search(value):
            raise errors.InvalidArgument(f"header {name} contains a control character")


def page_size(requested: int) -> int:
    if requested == 0:
        return LIST_PAGE_SIZE_DEFAULT
    if requested > LIST_PAGE_SIZE_MAX:
        raise errors.InvalidArgument(f"page_size {requested} is above the limit of {LIST_PAGE_SIZE_MAX}")
    return requested
