"""How long a call may take, and how a stream whose size is unknown is held to that.

Every call has a deadline: `timeout_s` for small calls; for streams the deadline grows with the
bytes moved (`timeout_s + size / STREAM_DEADLINE_BYTES_PER_S`), so a 10 GiB get is not cut off
after 30 s while a stalled 1 KiB put still fails in `timeout_s`. When the size is not known when
the call starts (a get without a length, a put from a pipe), a small watchdog thread (`_Watchdog`)
cancels the call once the moving deadline passes and the cancellation is reported as
DeadlineExceeded. `convert` and `fsck` move a watchdog too, by rules their modules describe
(objects.py, repair.py).

`rpc_error` is where a deadline that passed becomes an error worth reading: one line naming the
call, the seconds it had, and what to do, instead of gRPC's bare "Deadline Exceeded".

Rejected alternative: a fixed deadline for streams, which is either too short for large objects
or far too long for a stalled node.
"""

from __future__ import annotations

import threading
import time

import grpc
from ringstore.v1 import common_pb2

from nodectl.client.limits import STREAM_DEADLINE_BYTES_PER_S
from nodectl.errors import DeadlineExceeded, RingstoreError, from_rpc_error


def rpc_error(err: grpc.RpcError, call_name: str, deadline_s: float | None) -> RingstoreError:
    """`from_rpc_error`, except that gRPC's bare "Deadline Exceeded" becomes one line naming the
    call, the seconds it had, and what to do."""
    error = from_rpc_error(err)
    details_fn = getattr(err, "details", None)
    details = details_fn() if callable(details_fn) else None
    # A node's own DEADLINE_EXCEEDED carries its message (a quorum that timed out); only gRPC's
    # local deadline comes with this bare text.
    if (isinstance(error, DeadlineExceeded) and deadline_s is not None
            and (details or "").strip().lower() in ("", "deadline exceeded")):
        return DeadlineExceeded(
            f"{call_name} timed out after {deadline_s:.1f} s without an answer from the node (it "
            "may be overloaded, or waiting on a slow peer): retry, or raise --timeout-s")
    return error


def stream_deadline_s(timeout_s: float, size_bytes: int) -> float:
    """Seconds a stream moving `size_bytes` may take: timeout_s plus size at 10 MB/s."""
    assert size_bytes >= 0, size_bytes
    return timeout_s + size_bytes / STREAM_DEADLINE_BYTES_PER_S


def convert_deadline_s(timeout_s: float, size_bytes: int, expansion: float) -> float:
    """Seconds a conversion of a `size_bytes` object may take, from the call's start.

    The coordinator reads the object once and writes it `expansion` times over (N copies, or
    (K+M)/K for erasure coding), so it moves size * (1 + expansion) bytes; that at the stream
    rate, plus timeout_s for the manifest write and the release of the old copies.
    """
    assert size_bytes >= 0 and expansion >= 0, (size_bytes, expansion)
    return stream_deadline_s(timeout_s, round(size_bytes * (1 + expansion)))


def expansion_ratio(policy: common_pb2.RedundancyPolicy) -> float:
    """Bytes stored per logical byte under `policy`: N for replicas=N, (K+M)/K for ec=K+M; 1 unset."""
    which = policy.WhichOneof("policy")
    if which == "replication" and policy.replication.replicas:
        return float(policy.replication.replicas)
    if which == "erasure_coding" and policy.erasure_coding.data_shares:
        ec = policy.erasure_coding
        return (ec.data_shares + ec.parity_shares) / ec.data_shares
    return 1.0


class _Watchdog:
    """Cancels a call once a deadline, which callers move as bytes flow, has passed.

    Used for streams whose size is not known when the call starts, so no gRPC deadline can be
    set up front. It runs on the real monotonic clock: it exists only to bound real waits.
    """

    def __init__(self, deadline_s: float) -> None:
        self._cond = threading.Condition()
        self._deadline_s = deadline_s
        self._stopped = False
        self._call: grpc.Call | None = None
        self.expired = False
        self._thread = threading.Thread(target=self._run, name="nodectl-deadline", daemon=True)

    def start(self, call: grpc.Call) -> None:
        self._call = call
        self._thread.start()

    def move_to(self, deadline_s: float) -> None:
        """Set the deadline (time.monotonic() seconds); earlier or later than before."""
        with self._cond:
            self._deadline_s = deadline_s
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        # Each pass either waits for the deadline or a change of it, or exits: the number of
        # passes is bounded by the number of move_to() calls plus one.
        with self._cond:
            while not self._stopped:
                remaining_s = self._deadline_s - time.monotonic()
                if remaining_s <= 0:
                    self.expired = True
                    break
                self._cond.wait(remaining_s)
        if self.expired:
            assert self._call is not None
            self._call.cancel()
