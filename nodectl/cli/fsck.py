"""`fsck`: audit every object (or one bucket's) for chunks below full redundancy and for metadata
home replicas that lack the current manifest or hold it corrupt.

`fsck` is a report with an exit code: it exits by what it found: 0 all chunks full, 10
(EXIT_DEGRADED) some below full but readable, 5 (EXIT_DATA_LOSS) some unreadable, so a cron job
can alert on it without parsing. A metadata replica missing or corrupt counts as degraded. The code
looks at the findings as well as the summary, so a line printed as degraded or unreadable never
comes with exit 0.
"""

from __future__ import annotations

import click

from nodectl.cli.common import _print_json, _Settings
from nodectl.cli.formatting import _count, _is_ec
from nodectl.cli.progress import _progress
from nodectl.client import (
    FSCK_FINDINGS_MAX,
    FsckFinding,
    FsckMetadataFinding,
    FsckUsageFinding,
    FsckProgress,
    FsckReport,
    FsckSummary,
)
from nodectl.errors import EXIT_DATA_LOSS, EXIT_DEGRADED, EXIT_OK, one_line


def format_finding(finding: FsckFinding) -> str:
    """One `fsck` line: "degraded: BUCKET/KEY chunk ID (offset N) POLICY: 5 of 6 shares (...)"."""
    kind = "unreadable" if finding.unreadable else "degraded"
    unit = "shares" if _is_ec(finding.policy) else "copies"
    line = (f"{kind}: {finding.bucket}/{finding.key} chunk {finding.chunk_id_hex[:16]} "
            f"(offset {finding.offset_bytes}) {finding.policy}: "
            f"{finding.copies_present} of {finding.copies_wanted} {unit}")
    if finding.unreadable:
        line += f", {finding.copies_needed} needed"
    detail = one_line(finding.detail)
    return f"{line} ({detail})" if detail else line


def format_metadata_finding(finding: FsckMetadataFinding) -> str:
    """One `fsck` line for a metadata replica: "metadata corrupt: BUCKET/KEY on NODE (...)"."""
    kind = "corrupt" if finding.corrupt else "missing"
    detail = one_line(finding.detail)
    line = f"metadata {kind}: {finding.bucket}/{finding.key} on {finding.node_id}"
    return f"{line} ({detail})" if detail else line


def format_usage_finding(finding: FsckUsageFinding) -> str:
    """One `fsck` line for usage counters: "usage counters: BUCKET on NODE say ..., the audit found ..."."""
    if finding.dedup:
        return (f"dedup counters: {finding.bucket or 'everything'} on {finding.node_id} say "
                f"{finding.counted_saved_bytes} bytes saved; its reference rows add up to {finding.audited_saved_bytes}")
    return (f"usage counters: {finding.bucket} on {finding.node_id} say {_count(finding.counted_objects, 'object')}, "
            f"{finding.counted_logical_bytes} bytes; the audit found {_count(finding.audited_objects, 'object')}, "
            f"{finding.audited_logical_bytes} bytes")


def format_fsck_summary(summary: FsckSummary) -> str:
    """The last `fsck` line: what was audited, how many chunks are full, degraded, unreadable, and
    how many metadata replicas are missing or corrupt (only when some are)."""
    line = (f"fsck: {_count(summary.buckets_checked, 'bucket')}, "
            f"{_count(summary.objects_checked, 'object')}, "
            + (f"{_count(summary.noncurrent_versions_checked, 'older version')}, "
               if summary.noncurrent_versions_checked else "")
            + f"{_count(summary.chunks_checked, 'chunk')}: {summary.chunks_full} full, "
            f"{summary.chunks_degraded} degraded, {summary.chunks_unreadable} unreadable "
            f"({summary.chunks_misplaced} misplaced)")
    if summary.metadata_replicas_missing or summary.metadata_replicas_corrupt:
        line += (f"; metadata replicas: {summary.metadata_replicas_missing} missing, "
                 f"{summary.metadata_replicas_corrupt} corrupt")
    if summary.usage_counters_disagreeing:
        line += (f"; usage counters: {summary.usage_counters_disagreeing} of {summary.usage_counters_checked} "
                 "disagree")
    if summary.dedup_counters_disagreeing:
        line += (f"; dedup counters: {summary.dedup_counters_disagreeing} of {summary.dedup_counters_checked} "
                 "disagree")
    return line


def fsck_exit_code(report: FsckReport) -> int:
    """5 when any chunk is unreadable, 10 when any is only degraded, 0 when all are full.

    The summary counts every chunk; the findings are also looked at so that a line printed as
    degraded or unreadable never comes with exit 0, whatever the summary says."""
    summary = report.summary
    if summary.chunks_unreadable or any(f.unreadable for f in report.findings):
        return EXIT_DATA_LOSS
    if (summary.chunks_degraded or report.findings or report.findings_omitted
            or summary.metadata_replicas_missing or summary.metadata_replicas_corrupt
            or report.metadata_findings or summary.usage_counters_disagreeing
            or summary.dedup_counters_disagreeing):
        return EXIT_DEGRADED
    return EXIT_OK


@click.command("fsck")
@click.argument("bucket", required=False)
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document: findings and summary.")
@click.option("--deep", is_flag=True,
              help="Have every holder read each copy back and check its blake3 (a corrupt copy "
                   "counts as missing and is quarantined for repair); slow: at disk or throttle "
                   "speed.")
@click.option("--bandwidth-bytes-per-s", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --deep: the most bytes per second each holder reads (default: its scrub "
                   "throttle).")
@click.pass_context
def fsck_command(ctx: click.Context, bucket: str | None, as_json: bool, deep: bool,
                 bandwidth_bytes_per_s: int | None) -> None:
    """Audit every object (or BUCKET's): one line per chunk below full redundancy, per metadata
    replica missing or corrupt and per metadata home whose usage counters disagree with the audit,
    then a summary.

    Holders check each copy's index entry and file; with --deep they also read it back against
    its hash. Exits 0 when every chunk is at full redundancy and every metadata replica holds the
    current manifest, 10 when some are degraded (or missing, or corrupt) but all read, and 5 when
    any chunk is unreadable. Progress goes to stderr when it is a terminal."""
    if bandwidth_bytes_per_s is not None and not deep:
        raise click.UsageError("--bandwidth-bytes-per-s limits --deep's reads: add --deep")
    settings: _Settings = ctx.obj
    progress = _progress(f"fsck {bucket}" if bucket else "fsck", None)

    def on_progress(done: FsckProgress) -> None:
        progress.update(done.bytes_checked, detail=f"{_count(done.objects_checked, 'object')}, "
                                                   f"{_count(done.chunks_checked, 'chunk')}")

    with settings.client() as client:
        try:
            report = client.fsck(bucket, deep=deep, bandwidth_bytes_per_s=bandwidth_bytes_per_s or 0,
                                 progress=on_progress)
        finally:
            progress.finish()
    if as_json:
        _print_json(report.to_dict())
    else:
        lines = [format_finding(f) for f in report.findings]
        lines += [format_metadata_finding(f) for f in report.metadata_findings]
        lines += [format_usage_finding(f) for f in report.usage_findings]
        if report.findings_omitted:
            lines.append(f"fsck: {report.findings_omitted} more findings not shown (only the "
                         f"first {FSCK_FINDINGS_MAX} are kept; the summary counts them all)")
        lines.append(format_fsck_summary(report.summary))
        click.echo("\n".join(lines))
    ctx.exit(fsck_exit_code(report))
