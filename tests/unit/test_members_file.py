"""The members file (node/store/members_file.py): what a node remembers of its cluster, on disk."""

from __future__ import annotations

import json
import os
import stat

import pytest

from node.gossip import MEMBERS_MAX, MemberState
from node.store import MembersFileError, MembersSnapshot, RememberedMember, StoreFull, UnknownFormatVersion
from node.store import members_file
from node.store.members_file import (MEMBER_STATES, MEMBERS_FILE_BYTES_MAX, MEMBERS_FILE_ENTRIES_MAX,
                                     read_members_file, write_members_file)


def remembered(node_id: str, state: str = "ALIVE", **kw) -> RememberedMember:
    return RememberedMember(node_id=node_id, address=kw.pop("address", f"10.0.0.{node_id[-1]}:7401"), state=state,
                            generation=kw.pop("generation", 1_700_000_000_000), incarnation=kw.pop("incarnation", 3))


def snapshot(*members: RememberedMember, owner: str = "node-1") -> MembersSnapshot:
    return MembersSnapshot(node_id=owner, generation=1_700_000_000_123, saved_at_unix_ms=1_700_000_000_456,
                           members=members)


def test_limits_and_states_agree_with_the_membership_layer():
    """The store may not import node.gossip, so it repeats two of its facts; they must agree."""
    assert MEMBERS_FILE_ENTRIES_MAX == MEMBERS_MAX
    assert MEMBER_STATES == tuple(state.name for state in MemberState)
    # The largest table fits the byte limit, with every field at its longest.
    widest = snapshot(*(RememberedMember(node_id=f"n{i:062d}", address="h" * 249 + ":65535", state="SUSPECT",
                                         generation=2**64 - 1, incarnation=2**64 - 1) for i in range(MEMBERS_MAX)),
                      owner="a" * 63)
    document = {"format_version": 1, "node_id": widest.node_id, "generation": widest.generation,
                "saved_at_unix_ms": widest.saved_at_unix_ms,
                "members": [vars(m) for m in widest.members]}
    assert len(json.dumps(document, indent=1, sort_keys=True)) < MEMBERS_FILE_BYTES_MAX


def test_round_trip_keeps_every_field_sorted_by_node_id(tmp_path):
    path = str(tmp_path / "members.json")
    written = snapshot(remembered("node-3", "LEFT", incarnation=7), remembered("node-2", "DOWN"))
    write_members_file(path, written)
    read = read_members_file(path, owner="node-1")
    assert read == snapshot(remembered("node-2", "DOWN"), remembered("node-3", "LEFT", incarnation=7))
    document = json.loads((tmp_path / "members.json").read_text())
    assert document["format_version"] == 1 and document["node_id"] == "node-1"
    assert [m["node_id"] for m in document["members"]] == ["node-2", "node-3"]


def test_no_file_is_none_and_an_empty_cluster_round_trips(tmp_path):
    path = str(tmp_path / "members.json")
    assert read_members_file(path, owner="node-1") is None
    write_members_file(path, snapshot())
    assert read_members_file(path, owner="node-1").members == ()


def test_file_is_0600_whatever_the_umask_and_a_stale_temp_file(tmp_path):
    """Everything in a data dir is the service user's: the file is 0600 even under umask 0, and a
    temp file a crash left behind with a wider mode does not pass its mode on."""
    path = str(tmp_path / "members.json")
    stale = tmp_path / "members.json.tmp"
    stale.write_text("half a file")
    stale.chmod(0o666)
    old_umask = os.umask(0)
    try:
        write_members_file(path, snapshot(remembered("node-2")))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not stale.exists()


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path, monkeypatch):
    """Atomic replace: a failure before the rename (here the fsync) leaves the previous file as it
    was, readable; the next write succeeds over the leftover temp file."""
    path = str(tmp_path / "members.json")
    first = snapshot(remembered("node-2"))
    write_members_file(path, first)

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(members_file.os, "fsync", failing_fsync)
        with pytest.raises(OSError, match="Input/output error"):
            write_members_file(path, snapshot(remembered("node-2"), remembered("node-3")))
    assert read_members_file(path, owner="node-1") == first
    second = snapshot(remembered("node-3"))
    write_members_file(path, second)
    assert read_members_file(path, owner="node-1") == second


def test_a_full_disk_is_store_full(tmp_path, monkeypatch):
    def full(fd: int, data) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(members_file.os, "write", full)
    with pytest.raises(StoreFull, match="members.json"):
        write_members_file(str(tmp_path / "members.json"), snapshot(remembered("node-2")))


def _write_raw(tmp_path, document) -> str:
    path = tmp_path / "members.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def _valid_document() -> dict:
    return {"format_version": 1, "node_id": "node-1", "generation": 5, "saved_at_unix_ms": 6,
            "members": [{"node_id": "node-2", "address": "10.0.0.2:7401", "state": "ALIVE", "generation": 1,
                         "incarnation": 0}]}


def test_a_newer_format_is_refused_naming_the_versions(tmp_path):
    path = _write_raw(tmp_path, {**_valid_document(), "format_version": 2})
    with pytest.raises(UnknownFormatVersion) as raised:
        read_members_file(path, owner="node-1")
    assert str(raised.value) == (f"{path} has format_version 2; this release reads only format_version 1 "
                                 "(written by a newer release?)")


@pytest.mark.parametrize("document, message", [
    ('{"format_version": 1, "node_id": "node-1", "mem', "does not parse as JSON"),       # torn
    ("\xff\xfe", "does not parse as JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
    ({"node_id": "node-1"}, "has format_version None"),
    ({k: v for k, v in _valid_document().items() if k != "members"}, "lacks the field 'members'"),
    ({**_valid_document(), "members": {}}, "members is not a list"),
    ({**_valid_document(), "members": [7]}, "a member entry is a JSON int, not an object"),
    ({**_valid_document(), "members": [{"node_id": "node-2"}]}, "a member entry lacks the field 'address'"),
    ({**_valid_document(), "members": [{**_valid_document()["members"][0], "state": "GONE"}]},
     "member node-2: state 'GONE' is not one of ALIVE, SUSPECT, DOWN, OUT, LEFT"),
    ({**_valid_document(), "members": [{**_valid_document()["members"][0], "address": "10.0.0.2"}]},
     "member node-2: address '10.0.0.2' is not HOST:PORT"),
    ({**_valid_document(), "members": [{**_valid_document()["members"][0], "generation": -1}]},
     "member node-2: generation must be an integer in 0..2^64-1, got -1"),
    ({**_valid_document(), "members": [{**_valid_document()["members"][0], "node_id": "Node 2"}]},
     "member node id 'Node 2' must match"),
    ({**_valid_document(), "members": _valid_document()["members"] * 2}, "a member is listed twice"),
    ({**_valid_document(), "members": [{**_valid_document()["members"][0], "node_id": "node-1"}]},
     "the owner node-1 is listed among its own members"),
    ({**_valid_document(), "node_id": "node-9"}, "belongs to node 'node-9', not 'node-1'"),
])
def test_a_damaged_or_foreign_file_is_refused_naming_the_path_and_the_fault(tmp_path, document, message):
    """Never skipped: a node that ignored its members file would start alone, which the file exists to
    prevent. The error names the file and what is wrong with it."""
    path = _write_raw(tmp_path, document)
    with pytest.raises((MembersFileError, UnknownFormatVersion)) as raised:
        read_members_file(path, owner="node-1")
    assert str(raised.value).startswith(path), raised.value
    assert message in str(raised.value)


def test_a_file_over_the_byte_limit_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "members.json"
    path.write_bytes(b" " * (MEMBERS_FILE_BYTES_MAX + 1))
    with pytest.raises(MembersFileError, match=f"is over {MEMBERS_FILE_BYTES_MAX} bytes"):
        read_members_file(str(path), owner="node-1")


def test_more_members_than_a_table_holds_cannot_be_written():
    with pytest.raises(MembersFileError, match=f"at most {MEMBERS_FILE_ENTRIES_MAX}"):
        snapshot(*(remembered(f"n-{i}", address=f"h:{1 + i}") for i in range(MEMBERS_FILE_ENTRIES_MAX + 1)))
