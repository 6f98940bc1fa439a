"""Checks on user input, with one-line messages that say what was wrong and what is allowed."""

from __future__ import annotations

import re

from node import errors

BUCKET_NAME_RE = re.compile(r"^[a-z0-9-]{3,63}$")
# Most entries one ListObjects page may ask for.
LIST_PAGE_SIZE_MAX = 10_000
LIST_PAGE_SIZE_DEFAULT = 1000
# Most user metadata entries and their total size on one object.
METADATA_ENTRIES_MAX = 64
METADATA_BYTES_MAX = 8 * 1024


def bucket_name(name: str) -> str:
    if not BUCKET_NAME_RE.match(name):
        raise errors.InvalidArgument(
            f"bucket name {name!r} is invalid: use 3 to 63 characters from a-z, 0-9 and '-'")
    return name


def object_key(key: str, key_length_bytes_max: int) -> str:
    if not key:
        raise errors.InvalidArgument("object key is empty: give a key of 1 to "
                                     f"{key_length_bytes_max} UTF-8 bytes")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidArgument("object key is not valid UTF-8") from None
    if len(encoded) > key_length_bytes_max:
        raise errors.InvalidArgument(
            f"object key is {len(encoded)} bytes; the limit is {key_length_bytes_max} UTF-8 bytes")
    if "\0" in key:
        raise errors.InvalidArgument("object key contains a NUL character, which keys may not hold")
    return key


def metadata(entries: dict[str, str]) -> None:
    if len(entries) > METADATA_ENTRIES_MAX:
        raise errors.InvalidArgument(
            f"{len(entries)} metadata entries; the limit is {METADATA_ENTRIES_MAX}")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in entries.items())
    if size > METADATA_BYTES_MAX:
        raise errors.InvalidArgument(f"metadata is {size} bytes; the limit is {METADATA_BYTES_MAX}")


def page_size(requested: int) -> int:
    if requested == 0:
        return LIST_PAGE_SIZE_DEFAULT
    if requested > LIST_PAGE_SIZE_MAX:
        raise errors.InvalidArgument(f"page_size {requested} is above the limit of {LIST_PAGE_SIZE_MAX}")
    return requested
