"""The members file: the cluster a node last knew, kept in its data dir so a restart can find it.

`DIR/members.json` (beside `node.json` and `operator.json`, outside the LMDB environment) is one JSON
object:

    {"format_version": 1, "node_id": "node-3", "generation": 1767225600000,
     "saved_at_unix_ms": 1767225612345,
     "members": [{"node_id": "node-1", "address": "10.0.0.4:7401", "state": "ALIVE",
                  "generation": 1767225500000, "incarnation": 2}, ...]}

`node_id` is the owner (a file of another node is refused, as a data dir of another node is),
`generation` the life of the owner that wrote it, and `members` every other member of its table with
its peer address, last state, generation and incarnation. The owner itself is not listed. What the
file is for, and when it is written, is node/rejoin.py's business; this module only reads and writes
it, durably: a temp file (mode 0600, as everything in a data dir), fsynced, renamed over the old one,
and the directory fsynced, so a crash leaves the old file or the new one whole.

JSON rather than a record in the LMDB environment: the file must survive a metadata env that is
rebuilt or moved aside (`--rebuild-metadata` keeps the node in its cluster, and that is when it needs
to know the cluster), and an operator reads it (and may delete it) with nothing but a shell. Rejected:
an append-only event log compacted now and then, as Serf's snapshot is; a whole table of at most
MEMBERS_FILE_ENTRIES_MAX small records rewritten at most every few seconds costs less than the code
that replays and compacts a log.

A file that cannot be read, or has a format_version this release does not know, is an error with the
path and what is wrong, never skipped: a node that ignored it would start alone, which is what the
file exists to prevent. The caller says how to proceed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

from node.store.chunks import PRIVATE_FILE_MODE, fsync_dir, raise_if_full
from node.store.errors import StoreError, UnknownFormatVersion

MEMBERS_FILE_NAME = "members.json"
MEMBERS_FILE_FORMAT_VERSION = 1
# Most members the file lists: the most a membership table holds (node.gossip.MEMBERS_MAX, which this
# layer may not import; a unit test checks they agree).
MEMBERS_FILE_ENTRIES_MAX = 4096
# Largest file read: about 150 bytes per member at the most members, with room to spare. A bigger
# file is not one this code wrote.
MEMBERS_FILE_BYTES_MAX = 4 * 1024 * 1024
# The member states as node.gossip.MemberState names them (a unit test checks they agree).
MEMBER_STATES = ("ALIVE", "SUSPECT", "DOWN", "OUT", "LEFT")
ADDRESS_LENGTH_MAX = 255
_NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_UINT64_MAX = 2**64 - 1


class MembersFileError(StoreError):
    """The members file cannot be read or does not hold what this code writes."""


@dataclasses.dataclass(frozen=True)
class RememberedMember:
    """One other member as the owner last knew it."""

    node_id: str
    # Its peer address (host:port), the one a join dials.
    address: str
    # One of MEMBER_STATES.
    state: str
    generation: int
    incarnation: int

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, str) or not _NODE_ID_RE.match(self.node_id):
            raise MembersFileError(f"member node id {self.node_id!r} must match [a-z0-9][a-z0-9-]{{0,62}}")
        if not isinstance(self.address, str) or not _is_host_port(self.address):
            raise MembersFileError(f"member {self.node_id}: address {self.address!r} is not HOST:PORT")
        if self.state not in MEMBER_STATES:
            raise MembersFileError(f"member {self.node_id}: state {self.state!r} is not one of "
                                   f"{', '.join(MEMBER_STATES)}")
        for name in ("generation", "incarnation"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _UINT64_MAX:
                raise MembersFileError(f"member {self.node_id}: {name} must be an integer in 0..2^64-1, "
                                       f"got {value!r}")


@dataclasses.dataclass(frozen=True)
class MembersSnapshot:
    """What one write of the file holds."""

    # The node whose file it is.
    node_id: str
    # That node's generation when it wrote the file.
    generation: int
    # Its wall clock then (Unix ms): for people reading the file, never compared with anything.
    saved_at_unix_ms: int
    # Every other member it knew, in node id order.
    members: tuple[RememberedMember, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.node_id, str) or not _NODE_ID_RE.match(self.node_id):
            raise MembersFileError(f"owner node id {self.node_id!r} must match [a-z0-9][a-z0-9-]{{0,62}}")
        for name in ("generation", "saved_at_unix_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _UINT64_MAX:
                raise MembersFileError(f"{name} must be an integer in 0..2^64-1, got {value!r}")
        if len(self.members) > MEMBERS_FILE_ENTRIES_MAX:
            raise MembersFileError(f"{len(self.members)} members; at most {MEMBERS_FILE_ENTRIES_MAX}")
        ids = [m.node_id for m in self.members]
        if len(set(ids)) != len(ids):
            raise MembersFileError("a member is listed twice")
        if self.node_id in ids:
            raise MembersFileError(f"the owner {self.node_id} is listed among its own members")


def write_members_file(path: str, snapshot: MembersSnapshot) -> None:
    """Replace `path` with `snapshot`, durably (module docstring). Raises StoreFull when the disk is
    full and OSError for anything else the filesystem refuses; the old file is then left whole."""
    document = {
        "format_version": MEMBERS_FILE_FORMAT_VERSION,
        "node_id": snapshot.node_id,
        "generation": snapshot.generation,
        "saved_at_unix_ms": snapshot.saved_at_unix_ms,
        "members": [{"node_id": m.node_id, "address": m.address, "state": m.state, "generation": m.generation,
                     "incarnation": m.incarnation} for m in sorted(snapshot.members, key=lambda m: m.node_id)],
    }
    data = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")
    tmp = path + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)   # a temp file left by a crash may have had another mode
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise_if_full(exc, path)
        raise
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def read_members_file(path: str, *, owner: str) -> MembersSnapshot | None:
    """The snapshot in `path`, or None when there is no file (a data dir that never knew a cluster,
    or one from before the file existed). Raises UnknownFormatVersion for a format this release does
    not read, and MembersFileError for a file that is not one `write_members_file` wrote for `owner`;
    both messages name the path."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MEMBERS_FILE_BYTES_MAX + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MembersFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MEMBERS_FILE_BYTES_MAX:
        raise MembersFileError(f"{path} is over {MEMBERS_FILE_BYTES_MAX} bytes; it is not a members file")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MembersFileError(f"{path} does not parse as JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MembersFileError(f"{path} holds a JSON {type(document).__name__}, not an object")
    version = document.get("format_version")
    if version != MEMBERS_FILE_FORMAT_VERSION:
        raise UnknownFormatVersion(f"{path} has format_version {version!r}; this release reads only "
                                   f"format_version {MEMBERS_FILE_FORMAT_VERSION} (written by a newer release?)")
    try:
        entries = document["members"]
        if not isinstance(entries, list):
            raise MembersFileError("members is not a list")
        if len(entries) > MEMBERS_FILE_ENTRIES_MAX:
            raise MembersFileError(f"{len(entries)} members; at most {MEMBERS_FILE_ENTRIES_MAX}")
        members = tuple(_member(entry) for entry in entries)
        snapshot = MembersSnapshot(node_id=document["node_id"], generation=document["generation"],
                                   saved_at_unix_ms=document["saved_at_unix_ms"], members=members)
    except KeyError as exc:
        raise MembersFileError(f"{path} lacks the field {exc.args[0]!r}") from None
    except MembersFileError as exc:
        raise MembersFileError(f"{path}: {exc}") from None
    if snapshot.node_id != owner:
        raise MembersFileError(f"{path} belongs to node {snapshot.node_id!r}, not {owner!r}")
    return snapshot


def _member(entry: object) -> RememberedMember:
    if not isinstance(entry, dict):
        raise MembersFileError(f"a member entry is a JSON {type(entry).__name__}, not an object")
    try:
        return RememberedMember(node_id=entry["node_id"], address=entry["address"], state=entry["state"],
                                generation=entry["generation"], incarnation=entry["incarnation"])
    except KeyError as exc:
        raise MembersFileError(f"a member entry lacks the field {exc.args[0]!r}") from None


def _is_host_port(address: str) -> bool:
    host, sep, port = address.rpartition(":")
    return (bool(sep) and bool(host) and port.isdigit() and 0 < int(port) <= 65535
            and len(address) <= ADDRESS_LENGTH_MAX)
