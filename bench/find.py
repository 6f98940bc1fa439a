"""`find` from a home's indexes against a full listing, on one real metadata store.

    python -m bench.find [--objects 100000] [--matches 100] [--rounds 5] [--json PATH]

Fills one NodeStore (real LMDB, synced commits, in a temporary directory) with `--objects` current
objects of one bucket, `--matches` of them tagged `wanted=yes`, then times, `--rounds` times each:
the tag query (`NodeStore.find_manifests`, what each home answers `FindManifests` with) and what
finding them would cost without an index: a walk of every manifest of the bucket
(`list_manifests` pages) filtered the same way. Then the same two with ten times the objects'
share untouched, to show the query's cost follows its matches, not the bucket: it prints the
medians in ms and the ratio, and stores them as JSON (bench/results/, or `--json PATH`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from ringstore.v1 import common_pb2

from bench.report import write_results
from node.store import NodeStore
from node.store.index import matches

MIB = 1024 * 1024
BATCH = 2000


def _fill(store: NodeStore, start: int, count: int, every: int) -> None:
    for first in range(start, start + count, BATCH):
        batch = []
        for i in range(first, min(start + count, first + BATCH)):
            m = common_pb2.Manifest(format_version=1, tenant="t", bucket="b", key=f"objects/{i:08}", inline=True,
                                    size_bytes=1, inline_data=b"x", content_type="text/plain",
                                    version=common_pb2.VersionStamp(physical_ms=1_700_000_000_000 + i, node_id="n"),
                                    created_at_unix_ms=1_700_000_000_000 + i)
            if every and i % every == 0:
                m.tagging.tags["wanted"] = "yes"
            batch.append(m)
        store.put_manifests(batch)


def _find(store: NodeStore, query: common_pb2.ObjectQuery) -> int:
    found, after, total = [], b"", 0
    while True:
        found, after = store.find_manifests("t", "b", query, after=after or b"", limit=1000)
        total += len(found)
        if after is None:
            return total


def _scan(store: NodeStore, query: common_pb2.ObjectQuery) -> int:
    after, total = "", 0
    while True:
        page, more = store.list_manifests("t", "b", start_after=after, limit=1000)
        total += sum(1 for m in page if matches(query, m, now_ms=0))
        if not more:
            return total
        after = page[-1].key


def _median_ms(fn, rounds: int) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.find", description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    query = common_pb2.ObjectQuery(tags={"wanted": "yes"})
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-find-") as directory:
        with NodeStore(directory, map_size_bytes=8 * 1024 * MIB) as store:
            filled = 0
            for objects in (args.objects // 10, args.objects):
                _fill(store, filled, objects - filled, max(1, objects // args.matches) if filled == 0 else 0)
                filled = objects
                find_ms, found = _median_ms(lambda: _find(store, query), args.rounds)
                scan_ms, scanned = _median_ms(lambda: _scan(store, query), args.rounds)
                assert found == scanned, (found, scanned)
                rows.append({"objects": objects, "matches": found, "find_ms": round(find_ms, 2),
                             "scan_ms": round(scan_ms, 2), "scan_over_find": round(scan_ms / find_ms, 1)})
    print(f"{'objects':>9}  {'matches':>7}  {'find ms':>8}  {'full listing ms':>15}  ratio")
    for row in rows:
        print(f"{row['objects']:>9}  {row['matches']:>7}  {row['find_ms']:>8.2f}  {row['scan_ms']:>15.2f}  "
              f"{row['scan_over_find']:>5.1f}x")
    document = {"bench": "find", "rows": rows}
    write_results(document, "find", args.json_path)
    return document


if __name__ == "__main__":
    main()
