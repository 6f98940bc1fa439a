"""What `nodectl sync` sends: a large file stored, then appended to, then synced again.

    python -m bench.sync [--nodes 3] [--mib 1024] [--append-mib 1] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`).
A folder holding one `--mib` MiB file of random bytes is synced (everything travels); then
`--append-mib` MiB is appended and the folder synced again (only the new chunk should travel),
then a run with nothing changed. For comparison, the appended file is put plainly (every byte).
Prints, per step, the seconds, the bytes sent and the bytes named as already stored, and stores
them as JSON (bench/results/, or `--json PATH`).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from nodectl.client.sync import Sync

MIB = 1024 * 1024


def run(nodes: int, mib: int, append_mib: int) -> dict:
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as directory:
        folder = pathlib.Path(directory) / "folder"
        folder.mkdir()
        big = folder / "big.bin"
        with open(big, "wb") as f:
            for _ in range(mib // 8):
                f.write(os.urandom(8 * MIB))
            f.write(os.urandom((mib % 8) * MIB))
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            with cluster.client(timeout_s=600.0) as client:
                client.create_bucket("bench")

                def step(name: str) -> None:
                    started = time.perf_counter()
                    summary = Sync(client, folder, "bench", echo=lambda line: None).run()
                    rows[name] = {"seconds": round(time.perf_counter() - started, 2),
                                  "sent_bytes": summary.stats.sent_bytes,
                                  "reused_bytes": summary.stats.reused_bytes,
                                  "uploaded": summary.uploaded}

                step("first sync")
                with open(big, "ab") as f:
                    f.write(os.urandom(append_mib * MIB))
                step("after append")
                step("unchanged")
                started = time.perf_counter()
                client.put("bench", "plain.bin", big)
                rows["plain put"] = {"seconds": round(time.perf_counter() - started, 2),
                                     "sent_bytes": big.stat().st_size, "reused_bytes": 0, "uploaded": 1}
        finally:
            cluster.down()
    return {"bench": "sync", "nodes": nodes, "file_mib": mib, "append_mib": append_mib, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--append-mib", type=int, default=1)
    parser.add_argument("--json", dest="json_path", default="", help="Where to write the JSON (default: bench/results/).")
    args = parser.parse_args(argv)
    results = run(args.nodes, args.mib, args.append_mib)
    print(f"{'':14}  {'seconds':>8}  {'sent bytes':>12}  {'already stored':>14}")
    for name, row in results["rows"].items():
        print(f"{name:14}  {row['seconds']:>8}  {row['sent_bytes']:>12}  {row['reused_bytes']:>14}")
    write_results(results, "sync", args.json_path)
    return results


if __name__ == "__main__":
    main()
