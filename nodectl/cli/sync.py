"""`sync LOCAL_DIR BUCKET[/PREFIX]`: keep a folder and a bucket in step (nodectl/client/sync.py).

One line per action (upload, download, delete, conflict, keep with its reason, skip), then a
summary line with the bytes sent, the bytes already stored that did not travel, and the bytes
received. Exit 0 when every path was handled, 1 when some path failed (each said why).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from nodectl.cli.common import _Settings
from nodectl.cli.progress import _progress
from nodectl.client.sync import Summary, Sync
from nodectl.client.validate import validate_bucket, validate_prefix
from nodectl.errors import InvalidArgument, RingstoreError


@click.command("sync")
@click.argument("local_dir", metavar="LOCAL_DIR")
@click.argument("target", metavar="BUCKET[/PREFIX]")
@click.option("--pull", is_flag=True, help="Bring the bucket's changes to the folder instead of sending the folder's.")
@click.option("--watch", is_flag=True,
              help="Keep running, both ways: local changes go up as they happen, the bucket's come down "
                   "from its change feed (with --pull: only down).")
@click.option("--delete", is_flag=True,
              help="Carry deletions over too (only of paths the other side did not change since the last sync).")
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
@click.option("--interval", "interval_s", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              metavar="SECONDS", help="With --watch: how often the folder is rescanned.")
@click.pass_obj
def sync_command(settings: _Settings, local_dir: str, target: str, pull: bool, watch: bool, delete: bool,
                 dry_run: bool, interval_s: float) -> None:
    """Mirror LOCAL_DIR to BUCKET[/PREFIX] (or, with --pull, the other way), comparing by content.

    Only changed files travel, and of a large file only the 4 MiB chunks the bucket does not
    already store. A path changed on both sides since the last sync keeps both: the bucket's
    version stays at NAME, the local one becomes `NAME (conflict from HOST at TIME)`. What the
    last sync saw is kept in LOCAL_DIR/.ringstore-sync/.
    """
    bucket, _, prefix = target.partition("/")
    validate_bucket(bucket)
    validate_prefix(prefix)
    if watch and dry_run:
        raise InvalidArgument("--dry-run shows one pass; it cannot be combined with --watch")
    if not Path(local_dir).is_dir():
        raise InvalidArgument(f"{local_dir} is not a directory: sync needs an existing folder (mkdir it first)")
    with settings.client() as client:
        # Push by default, --pull the other way; --watch adds the bucket's changes to a push.
        engine = Sync(client, local_dir, bucket, prefix, push=not pull, pull=pull or watch, delete=delete,
                      dry_run=dry_run, echo=click.echo, progress=_progress)
        if not watch:
            summary = engine.run()
        else:
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            with settings.client() as feed_client:
                summary = engine.watch(stop, feed_client, interval_s=interval_s,
                                       on_pass=lambda s: click.echo(s.line()) if _busy(s) else None)
    click.echo(summary.line())
    if summary.errors:
        raise RingstoreError(f"sync: {summary.errors} paths failed (see above); run it again to retry them")


def _busy(summary: Summary) -> bool:
    return bool(summary.uploaded or summary.downloaded or summary.deleted_local or summary.deleted_remote
                or summary.conflicts or summary.errors)
