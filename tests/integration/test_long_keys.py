"""Object keys of 511, 512 and 1024 UTF-8 bytes through real noded processes: put, get, stat, ls
(order, prefix, pages), overwrite and delete, and garbage collection of the copies their old
versions referenced (reference rows name the version by a hash of its key).

Before keys were shortened for LMDB, a put of a 511-byte key failed with `internal error ...
BadValsizeError`. Every cluster is started by `cluster_factory` and stopped by pid at teardown.
"""

from __future__ import annotations

import pathlib

from click.testing import CliRunner

from cluster_checks import MIB, REPAIR_DEADLINE_S, payload, wait_copies, wait_full
from nodectl.cli import main
from nodectl.client import Client

LENGTHS_BYTES = (511, 512, 1024)


def _key(length_bytes: int, last: str = "k") -> str:
    """A key of exactly length_bytes UTF-8 bytes, with 2-byte characters in its head."""
    head = "long/" + "\u00e9" * 100  # 205 bytes
    return head + "x" * (length_bytes - len(head.encode()) - 1) + last


def test_keys_up_to_1024_bytes_work_everywhere_and_gc_reclaims_them(cluster_factory):
    """3 nodes, replicas=3, GC grace 3 s. Objects (one 1 MiB chunk each) under keys of 511, 512 and
    1024 bytes, plus neighbours that differ only in the last byte: every one reads back identical
    and stats; ls lists them in byte order at every page size and by a prefix longer than 478 bytes;
    the CLI reads one. Overwriting one and deleting another leaves exactly the copies of the
    current versions once GC has run, and fsck is clean. A deleted copy of the 1024-byte key's
    object is rebuilt by repair."""
    cluster = cluster_factory(nodes=3, settings={"repair.gc_grace_s": "3",
                                                 "repair.gc_interval_s": "0.5"})
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    client.create_bucket("long", replicas=3)
    objects: dict[str, bytes] = {}
    for length in LENGTHS_BYTES:
        for last in ("k", "j"):
            key = _key(length, last)
            assert len(key.encode()) == length
            objects[key] = payload(1 * MIB, seed=length * 1000 + ord(last))
            client.put("long", key, objects[key])
    wait_copies(cluster, 3 * len(objects), "the long-keyed objects' copies to be stored")

    for key, data in objects.items():
        assert client.get_bytes("long", key) == data, f"{len(key.encode())}-byte key differs"
        assert client.stat("long", key).info.size_bytes == len(data)
    in_order = sorted(objects, key=lambda k: k.encode())
    for page_size in (1, 2, 1000):
        assert [o.key for o in client.list_objects("long", page_size=page_size)] == in_order
    prefix = _key(1024)[:600]
    assert [o.key for o in client.list_objects("long", prefix=prefix)] == [_key(1024, "j"),
                                                                           _key(1024, "k")]
    result = CliRunner().invoke(main, ["--addr", cluster.any_address(), "stat", f"long/{_key(512)}"])
    assert result.exit_code == 0, result.output

    replaced = payload(1 * MIB, seed=9)
    client.put("long", _key(1024), replaced)
    client.delete("long", _key(512, "j"))
    del objects[_key(512, "j")]
    objects[_key(1024)] = replaced
    # The old 1024-byte version and the deleted 512-byte object lose their 3 copies each.
    wait_copies(cluster, 3 * len(objects), "GC to reclaim the copies of replaced and deleted "
                                           "long-keyed objects")
    for key, data in objects.items():
        assert client.get_bytes("long", key) == data
    assert _key(512, "j") not in [o.key for o in client.list_objects("long")]
    wait_full(cluster, "fsck to see every long-keyed object at full redundancy")

    # Repair of a long-keyed object's copy: the rebuilt copy carries the references (named by a
    # hash of the 1024-byte key) of the one it replaces.
    chunk_hex = client.stat("long", _key(1024)).chunks[0].chunk_id_hex
    victim = next(pathlib.Path(cluster.directory).glob(f"node-*/store/chunks/*/*/{chunk_hex}.r"))
    original = victim.read_bytes()
    victim.unlink()
    cluster.wait_until(lambda: victim.exists() and victim.read_bytes() == original,
                       timeout_s=REPAIR_DEADLINE_S, interval_s=0.3,
                       what="repair to rebuild the 1024-byte key's deleted copy")
    wait_full(cluster, "fsck to see the rebuilt copy")
    assert client.get_bytes("long", _key(1024)) == replaced
