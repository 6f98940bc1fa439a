"""`watch BUCKET[/PREFIX]`: a bucket's changes as they happen, resumable from a cursor.

One line per change (time, kind, key, version, size), or with `--json` one JSON document per line
carrying the cursor after it; progress lines (`--json` only) carry the cursor while nothing changes.
Stopping and running `watch --from CURSOR` (through any node) with the last cursor seen continues
where it left off: nothing is missed, and an event may come twice. `--count N` stops after N
changes (for scripts and tests); Ctrl-C stops at any time.
"""

from __future__ import annotations

import json

import click

from nodectl.cli.common import _Settings
from nodectl.cli.formatting import iso_utc
from nodectl.client import WatchEvent
from nodectl.errors import InvalidArgument
from nodectl.client.validate import validate_bucket, validate_prefix


def format_change(event: WatchEvent) -> str:
    change = event.change
    assert change is not None
    size = f" {change.size_bytes} bytes" if change.kind == "put" else ""
    note = "" if change.current or change.kind == "erase" else " (an older version)"
    return (f"{iso_utc(change.written_at_unix_ms)} {change.kind:<7} {change.key} version {change.version_id}"
            f"{size}{note}")


@click.command("watch")
@click.argument("target", metavar="BUCKET[/PREFIX]")
@click.option("--from", "cursor", default="", metavar="CURSOR", help="Continue after the event that carried CURSOR.")
@click.option("--from-now", is_flag=True, help="Only changes from now on (default: from the oldest kept, 7 days).")
@click.option("--count", type=click.IntRange(min=1), default=None, metavar="N", help="Stop after N changes.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document per line, with its cursor; progress too.")
@click.pass_obj
def watch_command(settings: _Settings, target: str, cursor: str, from_now: bool, count: int | None,
                  as_json: bool) -> None:
    """Print every change to BUCKET's objects (under PREFIX) as it happens: puts, overwrites,
    deletes, versions, tag changes, conversions and lifecycle actions."""
    bucket, _, prefix = target.partition("/")
    validate_bucket(bucket)
    validate_prefix(prefix)
    if cursor and from_now:
        raise InvalidArgument("give --from CURSOR or --from-now, not both")
    seen = 0
    with settings.client() as client:
        for event in client.watch(bucket, prefix, cursor=cursor, from_now=from_now):
            if as_json:
                click.echo(json.dumps({"cursor": event.cursor,
                                       "change": None if event.change is None else event.change.to_dict()},
                                      sort_keys=True))
            elif event.change is not None:
                click.echo(format_change(event))
            if event.change is not None:
                seen += 1
                if count is not None and seen >= count:
                    return
