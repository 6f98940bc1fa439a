"""Checks of what callers pass, before any RPC, and the wire's redundancy policy built from it.

- Obvious bad input (bucket names, keys, ranges, the address) is rejected before any RPC with
  InvalidArgument and a one-line message, so a typo costs no round trip and reads the same as
  the server's message would.
- Redundancy is given as `replicas=N` or `ec="K+M"` / `ec=(K, M)`, never both; the shape (integers,
  K >= 1, M >= 1, K+M <= 32) is checked here, the node re-checks it and also checks K+M (or N)
  against its live nodes, which only it knows.

The numbers are those of `limits`; a bad value is quoted back at most QUOTED_CHARS_MAX characters
long. Pure functions: no channel, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from ringstore.v1 import common_pb2

from nodectl.client.limits import (
    BUCKET_NAME_RE,
    CONTENT_TYPE_BYTES_MAX,
    EC_DIGITS_MAX,
    EC_SHARES_MAX,
    EC_TEXT_RE,
    KEY_LENGTH_BYTES_MAX,
    METADATA_BYTES_MAX,
    METADATA_ENTRIES_MAX,
    METADATA_KEY_BYTES_MAX,
    METADATA_VALUE_BYTES_MAX,
    NODE_ID_RE,
    QUOTED_CHARS_MAX,
)
from nodectl.errors import InvalidArgument


def _quoted(value: str) -> str:
    text = value if len(value) <= QUOTED_CHARS_MAX else value[: QUOTED_CHARS_MAX - 3] + "..."
    return repr(text)


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of "host:port" or "[ipv6]:port"; InvalidArgument otherwise."""
    bad = InvalidArgument(f"address {_quoted(address)} is not HOST:PORT (e.g. 127.0.0.1:7400)")
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit() or any(c.isspace() for c in address):
        raise bad
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise bad
    elif ":" in host:
        raise bad  # a bare IPv6 address is ambiguous: "[::1]:7400"
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"address {_quoted(address)}: port {port} is outside 1..65535")
    return host, port


def validate_bucket(bucket: str) -> None:
    """InvalidArgument unless `bucket` is 3..63 characters of a-z, 0-9 and '-'."""
    if not isinstance(bucket, str) or not BUCKET_NAME_RE.fullmatch(bucket):
        shown = _quoted(bucket) if isinstance(bucket, str) else type(bucket).__name__
        raise InvalidArgument(
            f"bucket name {shown} is invalid: use 3..63 characters of a-z, 0-9 and '-'")


def validate_key(key: str) -> None:
    """InvalidArgument unless `key` is 1..1024 UTF-8 bytes without NUL."""
    if not isinstance(key, str):
        raise InvalidArgument(f"key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidArgument("key must not be empty")
    _validate_key_text(key, what="key")


def _validate_key_text(text: str, *, what: str) -> None:
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} {_quoted(text)} is not valid UTF-8") from None
    if len(encoded) > KEY_LENGTH_BYTES_MAX:
        raise InvalidArgument(
            f"{what} is {len(encoded)} UTF-8 bytes; the limit is {KEY_LENGTH_BYTES_MAX}")
    nul_at = encoded.find(b"\x00")
    if nul_at >= 0:
        raise InvalidArgument(f"{what} contains NUL at UTF-8 byte {nul_at}")


def validate_put_fields(content_type: str, metadata: Mapping[str, str]) -> None:
    """InvalidArgument unless the content type and metadata are within the node's limits (the
    node checks them again, with the same numbers)."""
    if not isinstance(content_type, str):
        raise InvalidArgument(f"content_type must be a string, not {type(content_type).__name__}")
    if len(content_type.encode("utf-8", "surrogatepass")) > CONTENT_TYPE_BYTES_MAX:
        raise InvalidArgument(f"content type is {len(content_type.encode('utf-8', 'surrogatepass'))} "
                              f"bytes; the limit is {CONTENT_TYPE_BYTES_MAX} UTF-8 bytes")
    if len(metadata) > METADATA_ENTRIES_MAX:
        raise InvalidArgument(
            f"{len(metadata)} metadata entries; the limit is {METADATA_ENTRIES_MAX}")
    size = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgument(f"metadata must map str to str; got {name!r}: {value!r}")
        name_bytes = len(name.encode("utf-8", "surrogatepass"))
        value_bytes = len(value.encode("utf-8", "surrogatepass"))
        if not 1 <= name_bytes <= METADATA_KEY_BYTES_MAX:
            raise InvalidArgument(f"metadata name {_quoted(name)} is {name_bytes} bytes; give 1 to "
                                  f"{METADATA_KEY_BYTES_MAX} UTF-8 bytes")
        if value_bytes > METADATA_VALUE_BYTES_MAX:
            raise InvalidArgument(f"metadata value of {_quoted(name)} is {value_bytes} bytes; the "
                                  f"limit is {METADATA_VALUE_BYTES_MAX} UTF-8 bytes")
        size += name_bytes + value_bytes
    if size > METADATA_BYTES_MAX:
        raise InvalidArgument(f"metadata is {size} bytes in all; the limit is {METADATA_BYTES_MAX}")


def validate_prefix(prefix: str) -> None:
    """InvalidArgument unless `prefix` could start a key (it may be empty)."""
    if not isinstance(prefix, str):
        raise InvalidArgument(f"prefix must be a string, not {type(prefix).__name__}")
    _validate_key_text(prefix, what="prefix")


VERSION_ID_HEX_DIGITS = 32


def validate_version(version: str) -> None:
    """InvalidArgument unless `version` is "" (the current version), "null" or 32 hex digits."""
    if not isinstance(version, str):
        raise InvalidArgument(f"version must be a string, not {type(version).__name__}")
    if version in ("", "null"):
        return
    if len(version) != VERSION_ID_HEX_DIGITS or any(c not in "0123456789abcdef" for c in version):
        raise InvalidArgument(f"version {version[:80]!r} is not a version id: give \"null\" or the "
                              f"{VERSION_ID_HEX_DIGITS} hex digits `nodectl versions` lists")


def validate_range(start_bytes: int | None, length_bytes: int | None) -> None:
    """InvalidArgument unless the range fields are unset or non-negative integers."""
    for name, value in (("range_start_bytes", start_bytes), ("range_length_bytes", length_bytes)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"{name} must be an integer >= 0, got {value!r}")


def _validate_replicas(replicas: int | None) -> None:
    if replicas is None:
        return
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InvalidArgument(f"replicas must be an integer >= 1, got {replicas!r}")


def _check_ec_numbers(data_shares: int, parity_shares: int) -> tuple[int, int]:
    """(K, M) when both are in range; InvalidArgument naming the numbers and the rule otherwise."""
    shown = f"ec={data_shares}+{parity_shares}"
    if data_shares < 1:
        raise InvalidArgument(f"{shown} is invalid: K (data shares) must be at least 1")
    if parity_shares < 1:
        raise InvalidArgument(f"{shown} is invalid: M (parity shares) must be at least 1; "
                              "for no redundancy use replicas=1")
    if data_shares + parity_shares > EC_SHARES_MAX:
        raise InvalidArgument(f"{shown} is invalid: K+M is {data_shares + parity_shares}; "
                              f"the limit is {EC_SHARES_MAX}")
    return data_shares, parity_shares


def parse_ec(text: str) -> tuple[int, int]:
    """(K, M) of "K+M" (e.g. "4+2": 4 data shares, 2 parity shares); InvalidArgument otherwise.

    Only the shape is checked here (K >= 1, M >= 1, K+M <= EC_SHARES_MAX); whether the cluster
    has K+M live nodes is for the node to say.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"ec must be a 'K+M' string, not {type(text).__name__}")
    match = EC_TEXT_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidArgument(f"ec={_quoted(text)} is not K+M: give data and parity shares as "
                              "two integers, e.g. 4+2")
    if max(len(match.group(1)), len(match.group(2))) > EC_DIGITS_MAX:
        raise InvalidArgument(f"ec={_quoted(text.strip())} is invalid: K+M is over the limit "
                              f"of {EC_SHARES_MAX}")
    return _check_ec_numbers(int(match.group(1)), int(match.group(2)))


def _validate_ec(ec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """(K, M) of a "K+M" string or a (K, M) pair of ints, None for None; InvalidArgument otherwise."""
    if ec is None:
        return None
    if isinstance(ec, str):
        return parse_ec(ec)
    if (isinstance(ec, (tuple, list)) and len(ec) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in ec)):
        return _check_ec_numbers(ec[0], ec[1])
    raise InvalidArgument(f"ec must be a 'K+M' string or a (K, M) pair of integers, got {ec!r}")


def validate_policy(replicas: int | None,
                    ec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Check a replicas/ec pair as callers give it; returns ec as (K, M), or None.

    At most one may be given: InvalidArgument("give either replicas or ec, not both") otherwise.
    """
    if replicas is not None and ec is not None:
        raise InvalidArgument("give either replicas or ec, not both")
    _validate_replicas(replicas)
    return _validate_ec(ec)


def compression_pb(compression: str | None) -> int:
    """The wire Compression of "zstd", "none", or None (unset: the bucket's setting)."""
    if compression is None:
        return common_pb2.COMPRESSION_UNSPECIFIED
    choices = {"zstd": common_pb2.COMPRESSION_ZSTD, "none": common_pb2.COMPRESSION_NONE}
    if compression not in choices:
        raise InvalidArgument(f"compression {compression!r} is not one of zstd, none")
    return choices[compression]


def policy_pb(replicas: int | None,
              ec: str | tuple[int, int] | None) -> common_pb2.RedundancyPolicy | None:
    """The wire RedundancyPolicy for replicas=N or ec=K+M; None when neither is given.

    None (rather than an empty message) leaves the field unset, which the node reads as "the
    bucket's default" (put) or "the cluster's default" (create_bucket).
    """
    shares = validate_policy(replicas, ec)
    if replicas is not None:
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=replicas))
    if shares is not None:
        return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
            data_shares=shares[0], parity_shares=shares[1]))
    return None


def validate_node_id(node_id: str) -> None:
    """InvalidArgument unless `node_id` could name a node: [a-z0-9][a-z0-9-]{0,62}."""
    if not isinstance(node_id, str) or not NODE_ID_RE.fullmatch(node_id):
        shown = _quoted(node_id) if isinstance(node_id, str) else type(node_id).__name__
        raise InvalidArgument(f"node id {shown} is invalid: use 1..63 characters of a-z, 0-9 and "
                              "'-', not starting with '-' (`nodectl status` lists the members)")


def _validate_uint(name: str, value: int | None, minimum: int, maximum: int) -> None:
    """InvalidArgument unless `value` is None or an integer in minimum..maximum."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidArgument(f"{name} must be an integer in {minimum}..{maximum}, got {value!r}")
