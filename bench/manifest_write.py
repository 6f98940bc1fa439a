"""CPU a metadata home spends on one manifest write, on one real NodeStore.

    python -m bench.manifest_write [--count 3000] [--rounds 3] [--batch 1] [--json PATH]

Writes `--count` new 4 KiB inline objects' manifests one transaction each (as a home answers
PutManifest), or `--batch` of them per transaction (as a home commits the manifests that queued
behind a busy one together, PutManifests), and prints the process CPU microseconds per write, the
best of `--rounds` (the synced commit's waiting is not CPU). Run it against two checkouts to see
what a change to the manifest's transaction (indexes, usage counters) costs.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from ringstore.v1 import common_pb2

from bench.report import write_results
from node.store import NodeStore

MIB = 1024 * 1024


def _round(count: int, batch: int = 1) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-manifest-") as directory:
        with NodeStore(directory, map_size_bytes=512 * MIB) as store:
            manifests = [common_pb2.Manifest(
                format_version=1, tenant="t", bucket="b", key=f"dir{i % 7}/obj-{i}", inline=True, size_bytes=4096,
                inline_data=b"x" * 4096, content_type="text/plain", created_at_unix_ms=1_700_000_000_000 + i,
                version=common_pb2.VersionStamp(physical_ms=1_700_000_000_000 + i, node_id="n")) for i in range(count)]
            started = time.process_time()
            if batch == 1:
                for manifest in manifests:
                    store.put_manifest(manifest)
            else:
                for start in range(0, count, batch):
                    store.put_manifests(manifests[start:start + batch])
            return (time.process_time() - started) / count * 1e6


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.manifest_write", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="manifests per transaction")
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    best = min(_round(args.count, args.batch) for _ in range(args.rounds))
    print(f"{best:.1f} us of CPU per manifest write ({args.count} writes, {args.batch} per transaction, "
          f"best of {args.rounds})")
    document = {"bench": "manifest_write", "cpu_us_per_write": round(best, 1), "count": args.count,
                "batch": args.batch}
    write_results(document, "manifest_write", args.json_path)
    return document


if __name__ == "__main__":
    main()
