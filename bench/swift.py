"""OpenStack Swift beside Ringstore in the same run: `python -m bench --with-swift` (issue 15).

Ringstore's data path is judged by ratios against a mature Python object store measured on the
same machine minutes apart, since absolute MB/s on these machines move 2-4x between runs. This
module drives the harness in ../shared/peers/swift/ (its README): `setup.sh` installs Swift 2.30
from the distribution's packages if missing and starts a 4-node loopback cluster with policies
rep3 and ec42, `bench.sh` measures the dd ceiling, runs the harness's `bench.py` and measures the
ceiling again, and `teardown.sh` stops every process setup.sh recorded, by pid, restores
/etc/swift/swift.conf and removes the root. `run_harness` runs the three in that order, reads the
results before teardown removes them, and always tears down, whatever failed; `python -m bench`
then runs its own ceilings, throughput and small parts, and `compare` pairs the two halves into
the rows of the issue's table (`ISSUE_TARGETS`, the mapping as data) plus every other figure both
sides measured, and the nodes' and client's RSS high-water marks against the issue's memory
targets.

Sizes follow the suite's plan (`bench_args`): `--n1m` is the plan's count of 1 MiB objects at
concurrency 1, one 64 MiB and one 1 GiB object when the plan has them (`--quick` has 16 and 64 MiB:
the harness knows no 16 MiB, so that size has no Swift column), `--nsmall` is the plan's 4 KiB ops
per run at concurrency 1 and 16, one run. Swift's CPU per MB is bench.py's `cpu_ours_s` (utime +
stime of the bench client and every Swift process, background daemons included: that is Swift)
over logical MB; its `cpu_foreign_s` is the rest of the machine's busy time over the same window,
kept in the JSON and printed when above zero, since then something else ran. Swift reports no
latency percentiles, so the 4 KiB GET p99 row is Ringstore's against the issue's absolute 30 ms.

Rejected: the figures in the harness's README as a fixed column (the machine moves more between
days than the gaps we measure; only same-run ratios count); a Swift client of our own through
python-swiftclient in our venv (a second benchmark of Swift to keep honest, where the harness is
the one the issue's figures came from); one shell script around setup, bench and teardown
(teardown must run whatever failed, and teardown deletes the results, so they are read first);
keeping Swift up while our parts run (its replicators and updaters would take CPU from our
clusters: the halves must never overlap).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable

from bench.report import format_value, median

MIB = 1024 * 1024
GIB = 1024 * MIB
DEFAULT_ROOT = "/tmp/swift-peer"
# The harness's own listening ports (setup.sh): proxy, memcached, rsyncd, 4 x object/container/account.
HARNESS_PORTS = (18080, 21211, 18873, *(16000 + 10 * n + k for n in range(1, 5) for k in range(3)))
# Backstops only: setup.sh bounds apt by 300 + 900 s, bench.sh bench.py by 3000 s.
SETUP_TIMEOUT_S = 1800.0
BENCH_TIMEOUT_S = 3600.0
TEARDOWN_TIMEOUT_S = 180.0
OUTPUT_LINES_MAX = 2000
OUTPUT_TAIL_LINES = 15
MISSING = "—"

# Swift's policy names and ours; bench.py's size labels, our names for the same objects.
POLICIES = {"rep3": "replicas=3", "ec42": "ec=4+2"}
SIZE_BYTES = {"1MiB": MIB, "64MiB": 64 * MIB, "1GiB": GIB, "4KiB": 4096}
OUR_OBJECT_RUNS = {"1MiB": "many", "64MiB": "64mib", "1GiB": "1024mib"}
SIZE_ORDER = ("1GiB", "64MiB", "1MiB", "4KiB")
METRICS = ("rate", "cpu", "p99")

Key = tuple[str, str, str, int, str]  # (policy, size, op, concurrency, metric)


class SwiftError(Exception):
    """The harness could not give figures; the message is one line saying which step and why, and
    `detail` what `run_harness` gathered before it failed (each step's status and output tail)."""

    def __init__(self, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


@dataclasses.dataclass(frozen=True)
class Target:
    """What the issue asks of a row: a bound on the ratio Ringstore/Swift or, when `absolute`,
    on Ringstore's own value in the row's unit."""

    bound: str  # ">=", "<=" or "<"
    value: float
    absolute: bool = False

    def met(self, x: float) -> bool:
        return {">=": x >= self.value, "<=": x <= self.value, "<": x < self.value}[self.bound]

    def text(self, unit: str) -> str:
        sign = {">=": "≥", "<=": "≤", "<": "<"}[self.bound]
        return f"{sign} {self.value:g} {unit}" if self.absolute else f"{sign} {self.value:g}"


# The issue's table, in its order. The 4 KiB rows are rep3 (the issue's Swift figures are).
ISSUE_TARGETS: tuple[tuple[Key, Target], ...] = (
    (("rep3", "1GiB", "PUT", 1, "rate"), Target(">=", 1.3)),
    (("rep3", "1GiB", "PUT", 1, "cpu"), Target("<=", 0.6)),
    (("rep3", "64MiB", "PUT", 1, "rate"), Target(">=", 1.3)),
    (("rep3", "1MiB", "PUT", 1, "rate"), Target(">=", 1.5)),
    (("rep3", "1MiB", "GET", 1, "rate"), Target(">=", 1.5)),
    (("rep3", "1GiB", "GET", 1, "rate"), Target(">=", 2.5)),
    (("ec42", "1GiB", "PUT", 1, "rate"), Target(">=", 1.5)),
    (("ec42", "1GiB", "PUT", 1, "cpu"), Target("<=", 0.7)),
    (("ec42", "1MiB", "GET", 1, "rate"), Target(">=", 1.5)),
    (("ec42", "1GiB", "GET", 1, "rate"), Target(">=", 1.9)),
    (("rep3", "4KiB", "PUT", 1, "rate"), Target(">=", 5.0)),
    (("rep3", "4KiB", "PUT", 16, "rate"), Target(">=", 5.0)),
    (("rep3", "4KiB", "GET", 16, "rate"), Target(">=", 2.0)),
    (("rep3", "4KiB", "GET", 16, "p99"), Target("<=", 30.0, absolute=True)),
)
# Item 4 of the issue: resident set while serving a large put or get.
NODE_RSS_TARGET = Target("<", 150.0, absolute=True)
CLIENT_RSS_TARGET = Target("<", 100.0, absolute=True)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row of the comparison: Swift's figure, ours, and the issue's target when it has one."""

    figure: str
    unit: str
    swift: float | None
    ringstore: float | None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        """Ringstore / Swift (for CPU rows the ratio of CPU: lower is better)."""
        if self.swift is None or self.ringstore is None or self.swift == 0:
            return None
        return self.ringstore / self.swift

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        x = self.ringstore if self.target.absolute else self.ratio
        return None if x is None else self.target.met(x)

    def to_dict(self) -> dict:
        return {"figure": self.figure, "unit": self.unit, "swift": self.swift, "ringstore": self.ringstore,
                "ratio": self.ratio, "target": self.target.text(self.unit) if self.target else None,
                "met": self.met}


# ------------------------------------------------------------------------------------ the harness
def bench_args(many_count: int, object_mibs: Iterable[int], small_ops: int, *, throughput: bool = True,
               small: bool = True) -> list[str]:
    """bench.sh's arguments for the suite's plan: the same counts at the same concurrencies, a size
    only when our plan measures it, and nothing of a part `--only` left out."""
    mibs = set(object_mibs) if throughput else set()
    return ["--runs", "1", "--policies", ",".join(POLICIES),
            "--n1m", str(many_count if throughput else 0), "--conc-1m", "1",
            "--n64m", str(int(64 in mibs)), "--n1g", str(int(1024 in mibs)),
            "--nsmall", str(small_ops if small else 0), "--conc-small", "1,16"]


def default_harness() -> pathlib.Path:
    """../shared/peers/swift beside the checkout, as the issue names it; from a git worktree that
    lives elsewhere, beside the main checkout."""
    checkout = pathlib.Path(__file__).resolve().parents[1]
    candidates = [checkout.parent / "shared" / "peers" / "swift"]
    done = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=checkout,
                          capture_output=True, text=True, check=False)
    if done.returncode == 0 and done.stdout.strip():
        candidates.append(pathlib.Path(done.stdout.strip()).parent.parent / "shared" / "peers" / "swift")
    return next((c for c in candidates if (c / "setup.sh").is_file()), candidates[0])


def listening_ports(ports: Iterable[int]) -> list[int]:
    """Which of `ports` something listens on (TCP, from /proc/net/tcp and tcp6)."""
    wanted, found = set(ports), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # LISTEN
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port in wanted:
                    found.add(port)
    return sorted(found)


def preflight(harness: pathlib.Path, root: str) -> str:
    """Why the harness cannot run now, or "" when it can. Checked before anything is started, so a
    refusal never tears down a Swift someone else is running."""
    if os.geteuid() != 0:
        return "--with-swift needs root (setup.sh installs packages with apt and writes /etc/swift/swift.conf)"
    missing = [name for name in ("setup.sh", "bench.sh", "teardown.sh", "bench.py") if not (harness / name).is_file()]
    if missing:
        return f"no Swift harness at {harness} ({', '.join(missing)} missing); pass --swift-harness DIR"
    pid_files = sorted(pathlib.Path(root, "run").glob("*.pid"))
    if pid_files:
        return f"a Swift peer already runs under {root} ({len(pid_files)} pid files in {root}/run); not touching it"
    busy = listening_ports(HARNESS_PORTS)
    if busy:
        return f"the harness's ports are in use ({', '.join(map(str, busy))}): another Swift or another bench runs"
    return ""


def run_script(name: str, command: list[str], env: dict, timeout_s: float,
               echo: Callable[[str], None]) -> tuple[int, list[str]]:
    """Run one harness script, echoing its output line by line; (exit status, its output lines, the
    last OUTPUT_LINES_MAX). On timeout its process group (its own session, led by the pid we started
    and have not reaped yet) is terminated; the Swift daemons live in groups of their own, which
    teardown.sh stops."""
    lines: list[str] = []
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", env=env, start_new_session=True)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            echo(f"  swift {name}: {line.rstrip()}")
            lines.append(line.rstrip())
            del lines[:-OUTPUT_LINES_MAX]

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        rc = -1
        lines.append(f"{name} timed out after {timeout_s:.0f} s")
        stop_group(proc)
    except BaseException:  # Ctrl-C reaches only our own group: stop the script's before teardown runs
        stop_group(proc)
        raise
    reader.join(timeout=10)
    return rc, list(lines)


def stop_group(proc: subprocess.Popen) -> None:
    """TERM, then KILL, the process group led by `proc` (started with its own session, not reaped)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def recorded_groups(root: str) -> set[int]:
    groups = set()
    for f in pathlib.Path(root, "run").glob("*.pid"):
        text = f.read_text().strip()
        if text.isdigit():
            groups.add(int(text))
    return groups


def processes_in_groups(groups: set[int]) -> list[int]:
    """Live pids whose process group is one of `groups` (setup.sh starts each daemon with setsid,
    so its group id is the pid it recorded)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) in groups:
            found.append(int(entry.name))
    return sorted(found)


def first_error_line(step: str, rc: int, lines: list[str]) -> str:
    """`step` exited RC: its last line that names an error (apt's "E: ..." too), else its last line."""
    said = [line for line in lines if "error" in line.lower() or line.startswith("E: ") or "timed out" in line]
    last = (said or lines or ["no output"])[-1].strip()
    return f"{step} exited {rc}: {last}"


def run_harness(harness: pathlib.Path, root: str, args: list[str], echo: Callable[[str], None] = print) -> dict:
    """setup.sh, bench.sh ARGS, read the results, teardown.sh (always, once setup has started).

    Returns the raw text of bench-results.json and ceiling.txt with each step's seconds and exit
    status; raises SwiftError (after teardown) when a step failed or teardown left a process."""
    env = {**os.environ, "SWIFT_PEER_ROOT": root}
    out: dict = {"harness": str(harness), "root": root, "bench_args": args, "steps": {}}
    results_dir = pathlib.Path(root, "results")
    failure = ""
    groups: set[int] = set()
    try:
        for step, command, timeout_s in (("setup", ["bash", str(harness / "setup.sh")], SETUP_TIMEOUT_S),
                                         ("bench", ["bash", str(harness / "bench.sh"), *args], BENCH_TIMEOUT_S)):
            t0 = time.monotonic()
            rc, lines = run_script(step, command, env, timeout_s, echo)
            groups |= recorded_groups(root)
            out["steps"][step] = {"rc": rc, "seconds": time.monotonic() - t0, "tail": lines[-OUTPUT_TAIL_LINES:]}
            if rc != 0:
                failure = first_error_line(f"{step}.sh", rc, lines)
                break
            early = [line for line in lines if "ended early" in line]
            if early:  # bench.sh keeps going (and exits 0) when bench.py fails, to measure the ceiling after
                failure = f"bench.sh: {early[-1].strip()}"
        for name in ("bench-results.json", "ceiling.txt", "bench.log"):
            path = results_dir / name
            out[name] = path.read_text() if path.is_file() else None
    finally:
        groups |= recorded_groups(root)
        t0 = time.monotonic()
        rc, lines = run_script("teardown", ["bash", str(harness / "teardown.sh")], env, TEARDOWN_TIMEOUT_S, echo)
        out["steps"]["teardown"] = {"rc": rc, "seconds": time.monotonic() - t0, "tail": lines[-OUTPUT_TAIL_LINES:]}
        time.sleep(0.5)
        out["left_running"] = processes_in_groups(groups)
    if out["left_running"]:
        failure = failure or f"teardown.sh left Swift processes running: pids {out['left_running']}"
    elif rc != 0:
        failure = failure or first_error_line("teardown.sh", rc, lines)
    if not failure and not out["bench-results.json"]:
        failure = f"bench.sh wrote no {results_dir}/bench-results.json"
    if failure:
        out["error"] = failure
        raise SwiftError(failure, out)
    return out


# ------------------------------------------------------------------------------------ parsing
def parse_bench_json(text: str) -> list[dict]:
    """bench.py's measurements: the "runs" of its final file, or the list of a partial one, less the
    measurements of sizes that ran zero objects and those it skipped at its deadline."""
    data = json.loads(text)
    runs = data["runs"] if isinstance(data, dict) else data
    return [r for r in runs if r.get("ops") and "skipped" not in r]


DD_LINE = re.compile(r"^dd .*?(\d+) bytes .*? copied, ([\d.]+) s", re.M)
CP_LINE = re.compile(r"^cp .*?: ([\d.]+) MB/s without fsync; ([\d.]+) MB/s incl", re.M)
READ_LINE = re.compile(r"^read .*?(\d+) bytes .*? copied, ([\d.]+) s", re.M)


def parse_ceiling(text: str) -> dict:
    """bench.sh's ceiling.txt: the versions line, and per section ("before", "after") the dd
    conv=fsync write, the cp of 1 GiB and the page-cache read in MB/s (10^6), from bytes and seconds
    so that dd's own unit (MB/s or GB/s) does not matter."""
    out: dict = {}
    for line in text.splitlines():
        if line.startswith("versions:"):
            out["versions"] = line.split(":", 1)[1].strip()
    for section in re.split(r"^== ceiling ", text, flags=re.M)[1:]:
        name = section.split(")", 1)[0].lstrip("(")
        found: dict = {}
        if m := DD_LINE.search(section):
            found["dd_conv_fsync_mb_s"] = int(m.group(1)) / float(m.group(2)) / 1e6
        if m := CP_LINE.search(section):
            found["cp_mb_s"], found["cp_sync_mb_s"] = float(m.group(1)), float(m.group(2))
        if m := READ_LINE.search(section):
            found["page_cache_read_mb_s"] = int(m.group(1)) / float(m.group(2)) / 1e6
        out[name] = found
    return out


def swift_figures(runs: list[dict]) -> dict[tuple[str, str, str, int], dict]:
    """bench.py's measurements by (policy, size, op, concurrency): median rate over its runs (MB/s,
    or ops/s for 4 KiB), CPU ms per MB (per op for 4 KiB) from `cpu_ours_s`, the foreign CPU seconds
    and errors."""
    groups: dict[tuple[str, str, str, int], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["policy"], r["size"], r["op"], int(r["conc"])), []).append(r)
    out = {}
    for key, rs in groups.items():
        small = key[1] == "4KiB"
        per = [1000 * r["cpu_ours_s"] / (r["ops"] if small else r["ops"] * SIZE_BYTES[key[1]] / 1e6) for r in rs]
        out[key] = {"rate": median([r["ops_s"] if small else r["MB_s"] for r in rs]), "cpu": median(per),
                    "cpu_foreign_s": max(r["cpu_foreign_s"] for r in rs), "errors": sum(r["errors"] for r in rs),
                    "ops": rs[0]["ops"], "runs": len(rs)}
    return out


def ringstore_figures(parts: dict) -> dict[tuple[str, str, str, int], dict]:
    """The suite's throughput and small parts by the same keys as `swift_figures`: rate, CPU ms per
    MB (per op for 4 KiB), p99 ms for 4 KiB."""
    out: dict = {}
    swift_name = {ours: theirs for theirs, ours in POLICIES.items()}
    for label, runs in (parts.get("throughput") or {}).items():
        if label not in swift_name:
            continue
        for size, name in OUR_OBJECT_RUNS.items():
            run = runs.get(name)
            for op in ("PUT", "GET") if run else ():
                o = op.lower()
                out[(swift_name[label], size, op, 1)] = {"rate": run[f"{o}_mb_s"],
                                                         "cpu": 1000 * run[f"{o}_cpu_s_per_mb"],
                                                         "ops": run.get("count", 1)}
    for label, runs in (parts.get("small") or {}).items():
        if label not in swift_name:
            continue
        for name, run in runs.items():
            op, conc = name.split("_c")
            out[(swift_name[label], "4KiB", op.upper(), int(conc))] = {
                "rate": run["ops_per_s"], "cpu": run["cpu_ms_per_op"], "p99": run["p99_ms"], "ops": run["ops"]}
    return out


# ------------------------------------------------------------------------------------ comparison
def figure_text(key: Key, count: int | None = None) -> tuple[str, str]:
    """(figure, unit) of a key: ("rep3 1 MiB × 200 PUT c=1 MB/s", "MB/s")."""
    policy, size, op, conc, metric = key
    small = size == "4KiB"
    what = {"1MiB": f"1 MiB × {count}" if count else "1 MiB", "64MiB": "64 MiB", "1GiB": "1 GiB",
            "4KiB": "4 KiB"}.get(size, size)
    per_object = size in ("1MiB", "4KiB")
    conc_text = f" c={conc}" if per_object else ""
    unit = {"rate": "ops/s" if small else "MB/s", "cpu": "ms/op" if small else "ms/MB", "p99": "ms"}[metric]
    name = {"rate": unit, "cpu": f"CPU ms per {'op' if small else 'MB'}", "p99": "p99 ms"}[metric]
    return f"{policy} {what} {op}{conc_text} {name}", unit


def row_order(key: Key) -> tuple:
    policy, size, op, conc, metric = key
    return (list(POLICIES).index(policy), SIZE_ORDER.index(size), op != "PUT", conc, METRICS.index(metric))


def compare(swift: dict, ours: dict, ringstore_parts: dict | None = None) -> list[Comparison]:
    """The issue's rows in its order (a side that did not measure a row shows None), then every other
    figure both sides measured, then the RSS high-water marks of our large-object runs."""
    count = next((f["ops"] for k, f in {**swift, **ours}.items() if k[1] == "1MiB"), None)

    def value(side: dict, key: Key) -> float | None:
        found = side.get(key[:4])
        return None if found is None else found.get(key[4])

    def row(key: Key, target: Target | None) -> Comparison:
        figure, unit = figure_text(key, count)
        return Comparison(figure, unit, value(swift, key), value(ours, key), target)

    rows = [row(key, target) for key, target in ISSUE_TARGETS]
    issue_keys = {key for key, _ in ISSUE_TARGETS}
    both = [(*k, metric) for k in set(swift) & set(ours) for metric in ("rate", "cpu")]
    rows += [row(key, None) for key in sorted(set(both) - issue_keys, key=row_order)]
    return rows + rss_rows(ringstore_parts or {})


def rss_rows(parts: dict) -> list[Comparison]:
    """Node (max over nodes) and client RSS high-water per large-object put and get."""
    rows = []
    swift_name = {ours: theirs for theirs, ours in POLICIES.items()}
    for label, runs in (parts.get("throughput") or {}).items():
        if label not in swift_name:
            continue
        objects = sorted((int(name[:-3]), run) for name, run in runs.items() if re.fullmatch(r"\d+mib", name))
        for mib, run in objects:
            what = f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"
            for op in ("put", "get"):
                if f"{op}_node_rss_hwm_mib" not in run:
                    continue
                rows.append(Comparison(f"{swift_name[label]} {what} {op.upper()} node RSS high-water, max over nodes",
                                       "MiB", None, run[f"{op}_node_rss_hwm_mib"], NODE_RSS_TARGET))
                rows.append(Comparison(f"{swift_name[label]} {what} {op.upper()} client RSS high-water", "MiB", None,
                                       run[f"{op}_client_rss_hwm_mib"], CLIENT_RSS_TARGET))
    return rows


def format_cell(value: float | None) -> str:
    return MISSING if value is None else format_value(value)


def format_comparison(rows: list[Comparison]) -> str:
    """Figure, Swift, Ringstore, ratio, target, met: aligned text, "—" where a side has nothing."""
    headers = ("figure", "Swift", "Ringstore", "ratio", "target", "met")
    cells = [headers] + [(r.figure, format_cell(r.swift), format_cell(r.ringstore),
                          MISSING if r.ratio is None else f"{r.ratio:.2f}",
                          r.target.text(r.unit) if r.target else MISSING,
                          {True: "yes", False: "no", None: MISSING}[r.met]) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    right = {1, 2, 3}
    lines = ["  ".join(text.rjust(w) if i in right else text.ljust(w) for i, (text, w) in enumerate(zip(line, widths)))
             .rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ceilings_text(swift_ceiling: dict, ours_dd_mb_s: float | None, ours_dd_mib: int | None) -> str:
    """The dd conv=fsync ceiling of each half, on one line."""
    def mb_s(section: str) -> str:
        found = swift_ceiling.get(section, {}).get("dd_conv_fsync_mb_s")
        return MISSING if found is None else f"{found:.0f} MB/s"

    ours = MISSING if ours_dd_mb_s is None else f"{ours_dd_mb_s:.0f} MB/s ({ours_dd_mib} MiB, bs=1M)"
    return (f"dd conv=fsync: Swift's half {mb_s('before')} before, {mb_s('after')} after (1 GiB, bs=4M); "
            f"Ringstore's half {ours}")


def foreign_cpu_text(swift: dict) -> str:
    """A line naming the Swift measurements during which something else used CPU, or ""."""
    busy = {k: f["cpu_foreign_s"] for k, f in swift.items() if f["cpu_foreign_s"] > 0}
    if not busy:
        return ""
    worst = max(busy, key=busy.get)
    return (f"Swift's cpu_foreign_s > 0 in {len(busy)} of {len(swift)} measurements (up to {busy[worst]:.1f} s, "
            f"{' '.join(map(str, worst))}): something else ran beside Swift")
