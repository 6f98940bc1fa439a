"""`usage` and `admin quota set`: what buckets and tenants hold, and the most they may.

Usage comes from counters each metadata home keeps in step with its manifests, never from a scan,
so `usage` answers at once however many objects there are. A quota limits logical bytes and current
objects; a put that would go over one is refused (exit 8) naming the quota, the usage and the size
asked.
"""

from __future__ import annotations

import re

import click

from nodectl.cli.common import _print_json, _Settings
from nodectl.cli.formatting import format_table, human_bytes, iso_utc
from nodectl.client import BucketUsage, Quota, Usage

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgtp]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1}
for _i, _letter in enumerate("kmgtp", start=1):
    _UNITS[_letter] = _UNITS[_letter + "b"] = 1000 ** _i
    _UNITS[_letter + "i"] = _UNITS[_letter + "ib"] = 1024 ** _i


class SizeParam(click.ParamType):
    """A byte count: 1000000, 10GB (10^9 each), 10GiB (2^30 each); 0 or "none" for no limit."""

    name = "SIZE"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        if str(value).strip().lower() in ("none", "unlimited"):
            return 0
        match = _SIZE_RE.match(str(value))
        if match is None:
            self.fail(f"{value!r} is not a size: give bytes, or a number with KB, MB, GB, TB (powers of 1000) or "
                      "KiB, MiB, GiB, TiB (powers of 1024), or none", param, ctx)
        return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


class CountParam(click.ParamType):
    """An object count; 0 or "none" for no limit."""

    name = "N"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in ("none", "unlimited"):
            return 0
        if not text.isdigit():
            self.fail(f"{value!r} is not a number of objects (or none)", param, ctx)
        return int(text)


def quota_text(quota: Quota) -> str:
    parts = ([f"{human_bytes(quota.bytes)} ({quota.bytes} bytes)"] if quota.bytes else []) + (
        [f"{quota.objects} objects"] if quota.objects else [])
    return ", ".join(parts) or "none"


def _used_of(used: int, limit: int) -> str:
    return f"{used} of {limit} ({100 * used / limit:.0f}%)" if limit else str(used)


def format_breakdown(bucket: BucketUsage, kind: str) -> list[str]:
    """One bucket's usage per top-level prefix or content type, largest first."""
    def name(part) -> str:
        if kind == "history":
            return iso_utc(int(part.name))
        return part.name or f"(no {kind})"

    rows = [(name(part), str(part.objects), str(part.logical_bytes), str(part.noncurrent_bytes),
             str(part.physical_bytes)) for part in bucket.breakdown]
    header = ({"prefix": "PREFIX", "type": "TYPE", "policy": "POLICY", "history": "DAY"}[kind], "OBJECTS", "BYTES", "OLD VERSIONS",
              "PHYSICAL BYTES")
    return [f"{bucket.bucket} {'history' if kind == 'history' else f'by {kind}'}:"] + (format_table(header, rows, right=(1, 2, 3, 4)) if rows else ["  nothing"])


def stored_text(physical_bytes: int, dedup_saved_bytes: int) -> str:
    """What the data takes across the cluster, and what deduplication saved of it."""
    stored = f"{human_bytes(physical_bytes - dedup_saved_bytes)} stored"
    if not dedup_saved_bytes:
        return stored
    return f"{stored} ({human_bytes(dedup_saved_bytes)} saved by deduplication, {dedup_saved_bytes} bytes)"


def format_usage(usage: Usage) -> list[str]:
    # A byte quota counts the objects' bytes, the versions kept behind them and the parts of
    # unfinished uploads.
    rows = [(b.bucket, b.owner or "-", _used_of(b.objects, b.quota.objects),
             _used_of(b.logical_bytes + b.upload_bytes + b.noncurrent_bytes, b.quota.bytes), str(b.upload_bytes),
             str(b.noncurrent_bytes), str(b.physical_bytes), str(b.dedup_saved_bytes),
             str(b.tombstones))
            for b in usage.buckets]
    lines = format_table(("BUCKET", "OWNER", "OBJECTS", "BYTES", "IN UPLOADS", "OLD VERSIONS", "PHYSICAL BYTES",
                          "DEDUP SAVED", "DELETED"), rows, right=(2, 3, 4, 5, 6, 7, 8)) if rows else ["no buckets"]
    uploading = sum(b.upload_bytes for b in usage.buckets)
    kept = sum(b.noncurrent_bytes for b in usage.buckets)
    total = (f"total: {usage.objects} objects, {human_bytes(usage.logical_bytes)} logical "
             f"({usage.logical_bytes} bytes), {stored_text(usage.physical_bytes, usage.dedup_saved_bytes)}")
    if uploading:
        total += f", {human_bytes(uploading)} in unfinished uploads ({uploading} bytes)"
    if kept:
        total += f", {human_bytes(kept)} in old versions ({kept} bytes)"
    lines.append(total)
    if usage.dedup_nodes_missing:
        lines.append(f"deduplication figures leave out {usage.dedup_nodes_missing} node(s) that did not answer "
                     "(down or unreachable): what their copies save is not counted")
    if usage.tenant:
        quota = usage.tenant_quota
        line = f"tenant {usage.tenant} quota: {quota_text(quota)}"
        if quota.bytes:
            line += f"; {100 * (usage.logical_bytes + uploading + kept) / quota.bytes:.0f}% of its bytes used"
        if quota.objects:
            line += f"; {100 * usage.objects / quota.objects:.0f}% of its objects used"
        lines.append(line)
    return lines


@click.command("usage")
@click.option("--tenant", default="", help="This tenant's buckets, and its quota.")
@click.option("--bucket", default="", help="Only this bucket.")
@click.option("--by", "breakdown", type=click.Choice(["prefix", "type", "policy"]), default=None,
              help="Each bucket's usage per top-level prefix, content type or redundancy policy, largest first.")
@click.option("--history", is_flag=True, help="Each bucket's usage at the end of each of the last 30 days.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def usage_command(settings: _Settings, tenant: str, bucket: str, breakdown: str | None, history: bool,
                  as_json: bool) -> None:
    """Show what buckets hold: objects, logical and physical bytes (every version's chunk copies in
    full), what deduplication saves of them, deleted objects not yet purged, and quotas. Every bucket for the operator; a tenant's key sees its own tenant's. --by prefix|type
    breaks each bucket down (from counters, never a scan)."""
    if tenant and bucket:
        raise click.UsageError("give --tenant or --bucket, not both")
    if history and breakdown:
        raise click.UsageError("give --by or --history, not both")
    breakdown = "history" if history else breakdown
    with settings.client() as client:
        usage = client.usage(tenant=tenant, bucket=bucket, breakdown=breakdown or "")
    if as_json:
        _print_json(usage.to_dict())
        return
    click.echo("\n".join(format_usage(usage)))
    if breakdown:
        for b in usage.buckets:
            click.echo("")
            click.echo("\n".join(format_breakdown(b, breakdown)))


@click.group("quota")
def quota_group() -> None:
    """Quotas of tenants and buckets (operator only)."""


@quota_group.command("set")
@click.option("--tenant", default="", help="The tenant: all its buckets together.")
@click.option("--bucket", default="", help="One bucket.")
@click.option("--bytes", "size", type=SizeParam(), default=0,
              help="Most logical bytes, e.g. 500GB, 10GiB (none or 0: no limit).")
@click.option("--objects", type=CountParam(), default=0, help="Most current objects (none or 0: no limit).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def quota_set(settings: _Settings, tenant: str, bucket: str, size: int, objects: int, as_json: bool) -> None:
    """Set the quota of --tenant or --bucket; with neither --bytes nor --objects, remove it."""
    if bool(tenant) == bool(bucket):
        raise click.UsageError("give exactly one of --tenant and --bucket")
    with settings.client() as client:
        quota = client.set_quota(tenant=tenant, bucket=bucket, bytes=size, objects=objects)
    if as_json:
        _print_json(quota.to_dict())
        return
    whose = f"tenant {tenant}" if tenant else f"bucket {bucket}"
    click.echo(f"{whose} quota: {quota_text(quota)}; in force on every node within 2 s")
