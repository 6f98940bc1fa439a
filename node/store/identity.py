"""A store's identity: which life of a data dir's metadata this is, told apart from the node's id.

A node id names a host's role in the ring and outlives its disks; a *store id* names one LMDB
environment, created with it and never carried over. A disk replaced under the same host (the data
dir removed, or its metadata rebuilt in a fresh environment) keeps the node id and gets a new store
id, so the other nodes can tell "node-4 restarted" (same store: it still holds what it held) from
"node-4 came back empty" (new store: nothing it held before can be counted on). The node advertises
both halves in its membership record:

- `store_id`: 16 random bytes in hex. Peers key what they remember about a node's holdings by it
  (metadata sync remembers which homes acknowledged a partition per (node, store id), so a new store
  gets every partition pushed again).
- `created_at_unix_ms`: when the store was created, by the node's wall clock. A placement record
  last written before a store existed cannot be in that store, so repair does not make a node whose
  store is younger than a record responsible for that record's layout (see `node/repair/plan.py`).
  0 means "older than store identities": a data dir written before they existed is migrated to an
  identity with created_at 0, since it holds what it held (it is not a new store).

Kept in the LMDB `meta` db (key `store`) as one JSON object with a `format_version`, created in the
same transaction that initializes the environment's tables, so no code path can open a fresh
environment without a fresh identity. JSON rather than a protobuf record like the other tables' values:
the `meta` db holds the data dir's own plain values (layout version, node id), read by people
debugging a data dir as often as by code, and the identity never crosses the wire as a record (its
two fields ride in the membership record).

Rejected alternatives: a store generation counter beside the node id (it would have to live
somewhere that survives the disk, which is exactly what a replaced disk does not do); reusing the
process generation (every restart would look like a new disk and cost a full refill); a marker file
beside the LMDB environment (a metadata rebuild in a fresh environment would keep the old marker).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets

from node.store.errors import StoreError, UnknownFormatVersion

STORE_IDENTITY_FORMAT_VERSION = 1
# Random bytes in a store id: 128 bits, so two stores never share one.
STORE_ID_BYTES = 16
# Longest store id accepted from the network (a hex id is 2 * STORE_ID_BYTES characters).
STORE_ID_LENGTH_MAX = 64
_STORE_ID_RE = re.compile(r"^[0-9a-f]{1,64}$")


@dataclasses.dataclass(frozen=True)
class StoreIdentity:
    store_id: str
    created_at_unix_ms: int

    def __post_init__(self) -> None:
        if not _STORE_ID_RE.match(self.store_id):
            raise StoreError(f"store id {self.store_id!r} must be 1..{STORE_ID_LENGTH_MAX} lowercase hex "
                             "characters")
        if self.created_at_unix_ms < 0:
            raise StoreError(f"store {self.store_id}: created_at_unix_ms must be >= 0, got "
                             f"{self.created_at_unix_ms}")


def new_identity(now_unix_ms: int) -> StoreIdentity:
    """A fresh store's identity."""
    return StoreIdentity(secrets.token_hex(STORE_ID_BYTES), now_unix_ms)


def migrated_identity() -> StoreIdentity:
    """The identity given to a data dir written before identities existed: new id, created at 0."""
    return StoreIdentity(secrets.token_hex(STORE_ID_BYTES), 0)


def encode_identity(identity: StoreIdentity) -> bytes:
    return json.dumps({"format_version": STORE_IDENTITY_FORMAT_VERSION, "store_id": identity.store_id,
                       "created_at_unix_ms": identity.created_at_unix_ms}, sort_keys=True).encode("ascii")


def decode_identity(raw: bytes, where: str) -> StoreIdentity:
    try:
        record = json.loads(raw)
        version = record.get("format_version")
    except (ValueError, AttributeError) as exc:
        raise StoreError(f"store identity in {where} does not parse: {exc}") from exc
    if version != STORE_IDENTITY_FORMAT_VERSION:
        raise UnknownFormatVersion(f"store identity in {where} has format_version {version!r}; this node "
                                   f"reads only format_version {STORE_IDENTITY_FORMAT_VERSION}")
    try:
        return StoreIdentity(str(record["store_id"]), int(record["created_at_unix_ms"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"store identity in {where} lacks a valid field: {exc}") from exc
