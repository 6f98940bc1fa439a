"""Repair, fsck and scrub calls of `Client`.

- Repair, fsck and scrub calls go to one node, which fans out to every ALIVE member (unless
  `this_node_only`) and names the members that did not answer; the client hands that list back
  rather than raising, because a status from 9 of 10 nodes is still worth showing. The cluster
  totals are properties of the results (results.py).
- `fsck` streams for as long as the audit takes, which no deadline fixed up front can bound: a
  watchdog allows timeout_s from each message to the next (the node sends progress now and then),
  so an hour-long audit runs to the end while a node that goes quiet fails in timeout_s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from ringstore.v1 import admin_pb2

from nodectl.client.connection import _Connection
from nodectl.client.deadlines import _Watchdog
from nodectl.client.from_pb import (
    fsck_finding_from_pb,
    fsck_progress_from_pb,
    fsck_summary_from_pb,
    node_repair_status_from_pb,
    scrub_status_from_pb,
)
from nodectl.client.limits import FSCK_FINDINGS_MAX, FSCK_MESSAGES_MAX, UINT32_MAX, UINT64_MAX
from nodectl.client.results import (
    FsckFinding,
    FsckMetadataFinding,
    FsckUsageFinding,
    FsckProgress,
    FsckReport,
    RepairStatus,
    ScrubStatus,
)
from nodectl.client.validate import _validate_uint, validate_bucket
from nodectl.errors import DeadlineExceeded, Internal, InvalidArgument, from_rpc_error


class _RepairCalls(_Connection):
    """Repair status and throttles, fsck, scrub."""

    # The answering node asks every ALIVE member too unless this_node_only is set, and names the
    # members that did not answer in `unreachable`: a partial answer is still an answer.

    def repair_status(self, *, this_node_only: bool = False) -> RepairStatus:
        """Repair debt by redundancy level, rate, ETA and unrepairable chunks, per node."""
        request = admin_pb2.GetRepairStatusRequest(this_node_only=this_node_only)
        response = self._unary(self._admin.GetRepairStatus, request)
        return RepairStatus(nodes=[node_repair_status_from_pb(n) for n in response.nodes],
                            unreachable=list(response.unreachable))

    def set_repair_config(self, *, repair_bandwidth_bytes_per_s: int | None = None,
                          repair_concurrency_max: int | None = None,
                          scrub_bandwidth_bytes_per_s: int | None = None,
                          this_node_only: bool = False) -> tuple[list[str], list[str]]:
        """Change repair and scrub throttles at run time; returns (nodes that applied it,
        unreachable members as "node-id: reason").

        Unset arguments keep their value; at least one is needed. repair_bandwidth_bytes_per_s 0
        means unthrottled. Not persisted: a node that restarts goes back to its config file.
        """
        _validate_uint("repair_bandwidth_bytes_per_s", repair_bandwidth_bytes_per_s, 0, UINT64_MAX)
        _validate_uint("repair_concurrency_max", repair_concurrency_max, 1, UINT32_MAX)
        _validate_uint("scrub_bandwidth_bytes_per_s", scrub_bandwidth_bytes_per_s, 1, UINT64_MAX)
        if (repair_bandwidth_bytes_per_s is None and repair_concurrency_max is None
                and scrub_bandwidth_bytes_per_s is None):
            raise InvalidArgument("set_repair_config needs at least one of "
                                  "repair_bandwidth_bytes_per_s, repair_concurrency_max and "
                                  "scrub_bandwidth_bytes_per_s")
        request = admin_pb2.SetRepairConfigRequest(
            repair_bandwidth_bytes_per_s=repair_bandwidth_bytes_per_s,
            repair_concurrency_max=repair_concurrency_max,
            scrub_bandwidth_bytes_per_s=scrub_bandwidth_bytes_per_s,
            this_node_only=this_node_only)
        response = self._unary(self._admin.SetRepairConfig, request)
        return list(response.node_ids), list(response.unreachable)

    def fsck(self, bucket: str | None = None, *, deep: bool = False,
             bandwidth_bytes_per_s: int = 0,
             progress: Callable[[FsckProgress], None] | None = None) -> FsckReport:
        """Audit every object (or only `bucket`'s): findings for chunks below full redundancy, and
        a summary that counts every chunk.

        `progress(FsckProgress)` is called for each progress message. Each message must arrive
        within timeout_s of the one before (a cluster-wide audit may take hours, a stalled node
        is noticed in timeout_s). Read-only, so retried from the start after UNAVAILABLE: progress
        may start over and the report is the last attempt's. At most FSCK_FINDINGS_MAX findings
        are kept; the rest are only counted in `findings_omitted`.

        `deep`: every holder reads each copy back and checks its blake3, at most
        `bandwidth_bytes_per_s` (0: each holder's scrub throttle), so a corrupt copy counts as
        missing; a progress message comes every few chunks.
        """
        if bucket is not None:
            validate_bucket(bucket)
        if isinstance(bandwidth_bytes_per_s, bool) or not isinstance(bandwidth_bytes_per_s, int) \
                or bandwidth_bytes_per_s < 0:
            raise InvalidArgument(
                f"bandwidth_bytes_per_s must be an integer >= 0, got {bandwidth_bytes_per_s!r}")
        if bandwidth_bytes_per_s and not deep:
            raise InvalidArgument("bandwidth_bytes_per_s limits a deep audit's reads: pass deep=True")
        request = admin_pb2.FsckRequest(bucket=bucket or "", deep=deep,
                                        bandwidth_bytes_per_s=bandwidth_bytes_per_s)
        return self._retrying(lambda: self._fsck_once(request, progress))

    def _fsck_once(self, request: admin_pb2.FsckRequest,
                   progress: Callable[[FsckProgress], None] | None) -> FsckReport:
        """One Fsck call; the watchdog allows timeout_s from each message to the next."""
        name = f"fsck {request.bucket}" if request.bucket else "fsck"
        started_s = time.monotonic()
        watchdog = _Watchdog(started_s + self._timeout_s)
        call = self._admin.Fsck(request)
        watchdog.start(call)
        findings: list[FsckFinding] = []
        metadata_findings: list[FsckMetadataFinding] = []
        usage_findings: list[FsckUsageFinding] = []
        omitted = 0
        last: FsckProgress | None = None
        try:
            for _ in range(FSCK_MESSAGES_MAX):
                try:
                    message = next(call)
                except StopIteration:
                    raise Internal(f"{name}: the node ended the stream without a summary") from None
                except grpc.RpcError as err:
                    if watchdog.expired:
                        done = (f"{last.objects_checked} objects checked" if last is not None
                                else "no progress reported")
                        raise DeadlineExceeded(
                            f"{name}: no message from the node for {self._timeout_s:.1f} s, "
                            f"{time.monotonic() - started_s:.1f} s in ({done}); "
                            "raise --timeout-s if the node is busy") from err
                    raise from_rpc_error(err) from err
                watchdog.move_to(time.monotonic() + self._timeout_s)
                which = message.WhichOneof("msg")
                if which == "summary":
                    return FsckReport(findings=findings,
                                      summary=fsck_summary_from_pb(message.summary),
                                      findings_omitted=omitted, metadata_findings=metadata_findings,
                                      usage_findings=usage_findings)
                if which == "finding":
                    if len(findings) < FSCK_FINDINGS_MAX:
                        findings.append(fsck_finding_from_pb(message.finding))
                    else:
                        omitted += 1
                elif which == "metadata_finding":
                    if len(metadata_findings) < FSCK_FINDINGS_MAX:
                        m = message.metadata_finding
                        metadata_findings.append(FsckMetadataFinding(
                            bucket=m.bucket, key=m.key, node_id=m.node_id, corrupt=m.corrupt,
                            detail=m.detail))
                    else:
                        omitted += 1
                elif which == "usage_finding":
                    u = message.usage_finding
                    usage_findings.append(FsckUsageFinding(
                        bucket=u.bucket, node_id=u.node_id, counted_objects=u.counted_objects,
                        counted_logical_bytes=u.counted_logical_bytes, audited_objects=u.audited_objects,
                        audited_logical_bytes=u.audited_logical_bytes, dedup=u.dedup,
                        counted_saved_bytes=u.counted_saved_bytes, audited_saved_bytes=u.audited_saved_bytes))
                elif which == "progress":
                    last = fsck_progress_from_pb(message.progress)
                    if progress is not None:
                        progress(last)
                else:
                    raise Internal(f"{name}: the node sent an empty stream message")
            raise Internal(f"{name}: more than {FSCK_MESSAGES_MAX} messages; stopped")
        finally:
            watchdog.stop()
            call.cancel()  # no-op once the stream has ended; ends it on an error or Ctrl-C

    def start_scrub(self, *, this_node_only: bool = False) -> tuple[list[str], list[str]]:
        """Start a scrub pass now; returns (nodes that started one or already had one running,
        unreachable members as "node-id: reason")."""
        response = self._unary(self._admin.StartScrub,
                               admin_pb2.StartScrubRequest(this_node_only=this_node_only))
        return list(response.node_ids), list(response.unreachable)

    def scrub_status(self, *, this_node_only: bool = False) -> ScrubStatus:
        """Scrub progress and corrupt copies found, per node."""
        response = self._unary(self._admin.GetScrubStatus,
                               admin_pb2.GetScrubStatusRequest(this_node_only=this_node_only))
        return scrub_status_from_pb(response)
