"""Node processes by pid: signal names, liveness, ownership, the noded command line, log tails.

cluster-sim never signals a pid merely because cluster.json names it: pids are reused, and a
stale cluster.json must not let `down` kill an unrelated process. A pid counts as ours only when
it is alive and its `/proc/<pid>/cmdline` carries the node's data dir as a whole argument (so
`.../node-1` never matches `.../node-10`). Rejected alternative: process-group kills
(`os.killpg`). Each node runs in its own session, so that would work, but a group id is just as
reusable as a pid and gives no better proof of ownership.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

# HUP makes a node reload its TLS certificate, key and CA.
SIGNAL_NAMES: tuple[str, ...] = ("KILL", "TERM", "STOP", "CONT", "HUP")
LOG_TAIL_LINES_MAX = 20
LOG_TAIL_BYTES_MAX = 8192


def parse_signal(name: str) -> signal.Signals:
    """'KILL', 'kill', 'SIGKILL' -> signal.SIGKILL; anything outside KILL|TERM|STOP|CONT|HUP is refused."""
    short = name.strip().upper()
    if short.startswith("SIG"):
        short = short[3:]
    if short not in SIGNAL_NAMES:
        raise ValueError(f"unknown signal {name!r}; use one of {', '.join(SIGNAL_NAMES)}")
    return signal.Signals[f"SIG{short}"]


def pid_alive(pid: int, *, proc_root: str | os.PathLike = "/proc") -> bool:
    """True when `pid` exists and is not a zombie (a zombie has exited; only its parent can reap it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        stat = (Path(proc_root) / str(pid) / "stat").read_text()
    except OSError:
        return False
    # Field 3 follows the parenthesised command name, which may itself contain ") ".
    state = stat[stat.rfind(")") + 2:][:1]
    return state not in ("Z", "X", "")


def read_cmdline(pid: int, *, proc_root: str | os.PathLike = "/proc") -> list[str]:
    try:
        raw = (Path(proc_root) / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0") if part]


def cmdline_owns(cmdline: Sequence[str], data_dir: str) -> bool:
    """True when the command line names `data_dir` as a whole argument (or `--data-dir=DIR`)."""
    return data_dir in cmdline or f"--data-dir={data_dir}" in cmdline


def owns_pid(pid: int, data_dir: str, *, proc_root: str | os.PathLike = "/proc") -> bool:
    """True when `pid` is a live process started for the node whose data dir is `data_dir`."""
    if pid <= 0:
        return False
    return cmdline_owns(read_cmdline(pid, proc_root=proc_root), data_dir)


def node_command(*, data_dir: str, port: int, node_id: str, secret_file: str, profile: str,
                 peer_port: int = 0, host: str = "127.0.0.1", tls_files: tuple[str, str, str] | None = None,
                 join_addresses: Sequence[str] = (), zone: str = "",
                 capacity_bytes: int | None = None, default_replicas: int | None = None,
                 settings: dict[str, str] | None = None, allow_fault_injection: bool = False,
                 s3_port: int | None = 0, master_key_file: str = "", python: str = sys.executable) -> list[str]:
    """The noded command line (the contract in cluster-sim's brief); port 0 picks a free port.
    `tls_files` are (certificate, key, CA certificate); None runs the node --insecure. `s3_port`
    None: no S3 port. `master_key_file`: the keyring for encryption at rest ("": none)."""
    command = [
        python, "-m", "node",
        "--data-dir", data_dir,
        "--listen", f"{host}:{port}",
        "--peer-listen", f"{host}:{peer_port}",
        "--metrics-listen", "127.0.0.1:0",
        *(["--s3-listen", f"{host}:{s3_port}"] if s3_port is not None else []),
        "--node-id", node_id,
        "--cluster-secret-file", secret_file,
        *(["--master-key-file", master_key_file] if master_key_file else []),
        "--profile", profile,
    ]
    if tls_files is None:
        command.append("--insecure")
    else:
        cert, key, ca = tls_files
        command += ["--tls-cert", cert, "--tls-key", key, "--tls-ca", ca]
    if zone:
        command += ["--zone", zone]
    if capacity_bytes is not None:
        command += ["--capacity-bytes", str(capacity_bytes)]
    if default_replicas is not None:
        command += ["--default-replicas", str(default_replicas)]
    for name, value in sorted((settings or {}).items()):
        command += ["--set", f"{name}={value}"]
    if allow_fault_injection:
        command.append("--allow-fault-injection")
    for address in join_addresses:
        command += ["--join", address]
    return command


def tail_log(path: str | os.PathLike, *, lines_max: int = LOG_TAIL_LINES_MAX,
             bytes_max: int = LOG_TAIL_BYTES_MAX) -> str:
    """The last `lines_max` lines of a log (reading at most `bytes_max` from its end)."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size_bytes = log.tell()
            log.seek(max(0, size_bytes - bytes_max))
            data = log.read(bytes_max)
    except OSError as err:
        return f"(no log: {err.strerror})"
    lines = data.decode("utf-8", "replace").splitlines()
    if size_bytes > bytes_max and lines:
        lines = lines[1:]  # the first line was cut in the middle
    return "\n".join(lines[-lines_max:])
