"""gRPC's C core writes its own lines straight to file descriptor 2, in its own format; the one that
matters to an operator is a refused TLS handshake, and the core says it as

    I1203 09:45:35.720159 23250 ssl_transport_security.cc:2563] Handshake failed with error
    SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER: ...

which tells nobody that a node started with --insecure is knocking on a TLS port. `CoreLogRelay`
puts a pipe in front of descriptor 2: a thread reads every line written to it (the node's own log
lines too, in order) and passes it on to the real stderr unchanged, except a refused handshake it
recognises, which becomes one line in the node's own log format saying what was refused and what to
do, with the core's reason kept at the end. Each is counted in ringstore_auth_failures_total.

The core does not say which address the connection came from, so neither can the line.

The core logs a refused handshake at INFO, which GRPC_VERBOSITY=ERROR (what nodectl sets for
itself, and may pass on) would hide. So noded's entry point (`prepare_verbosity`, before grpc is
imported) has the core log at INFO and remembers the verbosity asked for; the relay drops the core's
other lines below that level, as the core itself would have.

Safety: a relay that fails passes bytes through untouched; at exit it restores descriptor 2 and
drains the pipe before the process ends. Python's fault handler writes to the real stderr, so a
crash report never waits on the relay thread. Lines still in the pipe when the process is killed
with SIGKILL are lost (a few microseconds' worth).

Rejected: a TLS-sniffing proxy in front of the peer port (every byte of every copy through a
Python socket loop), and raising gRPC's verbosity (more core lines, no clearer ones).
"""

from __future__ import annotations

import atexit
import datetime
import faulthandler
import os
import re
import sys
import threading
from collections.abc import Callable

# A line of gRPC's core: severity letter, MMDD, time, thread id, file:line].
CORE_LINE_RE = re.compile(rb"^([DIWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]]+\] ")
SEVERITY_RANK = {b"D": 0, b"I": 1, b"W": 2, b"E": 3, b"F": 4}
VERBOSITY_RANK = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "ERROR": 3, "NONE": 5}
# The core's lines below this rank are dropped (see `prepare_verbosity`); gRPC's own default shows all.
_shown_rank = 0


def prepare_verbosity() -> None:
    """Before grpc is imported: the core logs at INFO (refused handshakes), and lines below the
    verbosity asked for in GRPC_VERBOSITY are dropped by the relay instead."""
    global _shown_rank
    asked = os.environ.get("GRPC_VERBOSITY", "").strip().upper()
    _shown_rank = VERBOSITY_RANK.get(asked, 0)
    if _shown_rank > VERBOSITY_RANK["INFO"]:
        os.environ["GRPC_VERBOSITY"] = "INFO"

# (what the core says, the metric reason, what the node says instead)
REFUSALS: tuple[tuple[bytes, str, str], ...] = (
    (b"WRONG_VERSION_NUMBER", "plaintext",
     "refused a connection that does not speak TLS: a node or client started with --insecure (or nodectl "
     "--insecure) is calling this TLS port; give it the cluster CA and its certificate, or run every node "
     "--insecure"),
    (b"HTTP_REQUEST", "plaintext",
     "refused a plain HTTP request on a TLS gRPC port: point it at the metrics port, or use https"),
    (b"PEER_DID_NOT_RETURN_A_CERTIFICATE", "no_client_certificate",
     "refused a TLS connection without a client certificate on the peer port: only nodes, with their node "
     "certificate, call it; nodectl and clients use the client port (--listen)"),
    (b"CERTIFICATE_VERIFY_FAILED", "untrusted_certificate",
     "refused a TLS connection whose certificate the cluster CA did not sign (a node of another cluster, or "
     "certificates from an old CA): issue it one with `nodectl tls issue-node` from this cluster's CA"),
    (b"CERTIFICATE_EXPIRED", "expired_certificate",
     "a TLS handshake failed on an expired certificate (this node's or the caller's): `nodectl tls show` "
     "names the dates; issue a new one and send SIGHUP"),
    (b"TLSV1_ALERT_UNKNOWN_CA", "peer_refused_certificate",
     "a peer refused this node's certificate: it does not trust the CA that signed it (two clusters' CAs "
     "mixed?)"),
)
HANDSHAKE_MARK = b"Handshake failed"


def translate(line: bytes, node_id: str, now: datetime.datetime | None = None) -> tuple[bytes, str | None]:
    """The line to write for a line the core wrote, and the refusal's metric reason (None: not a
    refused handshake, passed on as it is)."""
    if HANDSHAKE_MARK not in line:
        return _shown(line), None
    for needle, reason, text in REFUSALS:
        if needle in line:
            moment = now or datetime.datetime.now()
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}"
            core = line.split(b"]", 1)[-1].strip().decode("utf-8", "replace")
            return (f"{stamp} WARNING node={node_id} ringstore.tls: {text} (gRPC: {core})\n".encode("utf-8"),
                    reason)
    return _shown(line), None


def _shown(line: bytes) -> bytes:
    """The line, or b"" for a core line below the verbosity asked for."""
    match = CORE_LINE_RE.match(line)
    if match is not None and SEVERITY_RANK[match.group(1)] < _shown_rank:
        return b""
    return line


class CoreLogRelay:
    """Relays descriptor 2 through `translate` (see the module docstring)."""

    def __init__(self, node_id: Callable[[], str], on_refusal: Callable[[str], None] = lambda reason: None) -> None:
        self._node_id = node_id
        self.on_refusal = on_refusal
        self._thread: threading.Thread | None = None
        self._real_stderr = -1

    def start(self) -> None:
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        self._real_stderr = os.dup(2)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        faulthandler.enable(file=self._real_stderr)
        self._thread = threading.Thread(target=self._pump, args=(read_fd,), name="core-log", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def _pump(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            pending = b""
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._write(line + b"\n")
            if pending:
                self._write(pending)

    def _write(self, line: bytes) -> None:
        try:
            out, reason = translate(line, self._node_id())
            if reason is not None:
                self.on_refusal(reason)
        except Exception:  # never lose a line to a bug here
            out = line
        try:
            if out:
                os.write(self._real_stderr, out)
        except OSError:
            pass

    def stop(self) -> None:
        """Put the real stderr back and pass on what is still in the pipe."""
        if self._thread is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._real_stderr, 2)  # the pipe's last writer is gone: the pump reads to its end
        self._thread.join(timeout=2.0)
        self._thread = None
