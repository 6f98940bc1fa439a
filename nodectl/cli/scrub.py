"""`scrub start|status`: re-read stored copies against their hashes now, and watch the passes.

`scrub status` is a report: it exits 0 whatever it shows, with a `warning:` line on stderr for each
ALIVE member that did not answer. `scrub start` is an action: it names the nodes that run a pass
and exits 4 (unavailable) when some member did not answer.
"""

from __future__ import annotations

import click

from nodectl.cli.common import (
    NODE_ONLY_HELP,
    _print_json,
    _Settings,
    _warn_unreachable,
    not_applied_error,
)
from nodectl.cli.formatting import duration_text, format_table, iso_utc
from nodectl.client import NodeScrubStatus, ScrubStatus


def _scrub_checked_text(node: NodeScrubStatus) -> str:
    """"1200/5000 copies (24%)", the percentage of bytes; no percentage before any is indexed."""
    text = f"{node.copies_checked}/{node.copies_total} copies"
    if node.bytes_total:
        text += f" ({100 * node.bytes_checked / node.bytes_total:.0f}%)"
    return text


def format_scrub_status(status: ScrubStatus) -> list[str]:
    """The `scrub status` table: NODE RUNNING CHECKED CORRUPT (this pass / since start) PASSES
    LAST PASS (when it finished and how long it took)."""
    return format_table(
        ("NODE", "RUNNING", "CHECKED", "CORRUPT", "PASSES", "LAST PASS"),
        ((n.node_id, "yes" if n.running else "no", _scrub_checked_text(n),
          f"{n.corrupt_found} / {n.corrupt_found_total}", str(n.passes_completed),
          f"{iso_utc(n.last_pass_finished_unix_ms)} ({duration_text(n.last_pass_s)})"
          if n.last_pass_finished_unix_ms > 0 else "-")
         for n in status.nodes),
        right=(4,))


@click.group("scrub")
def scrub_group() -> None:
    """Re-read stored copies against their hashes: start a pass, watch its progress."""


@scrub_group.command("start")
@click.option("--node-only", is_flag=True, help=NODE_ONLY_HELP)
@click.pass_obj
def scrub_start_command(settings: _Settings, node_only: bool) -> None:
    """Start a scrub pass now (a node already scrubbing carries on). Exits 4 when an ALIVE member
    did not answer, after naming those that run one."""
    with settings.client() as client:
        started, unreachable = client.start_scrub(this_node_only=node_only)
    click.echo(f"scrub running on {', '.join(started) or 'no node'}")
    if unreachable:
        raise not_applied_error("scrub start", unreachable)


@scrub_group.command("status")
@click.option("--node-only", is_flag=True, help=NODE_ONLY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def scrub_status_command(settings: _Settings, node_only: bool, as_json: bool) -> None:
    """Show each node's scrub pass: copies and bytes checked, corrupt copies found, passes done."""
    with settings.client() as client:
        status = client.scrub_status(this_node_only=node_only)
    if as_json:
        _print_json(status.to_dict())
    else:
        click.echo("\n".join(format_scrub_status(status)))
    _warn_unreachable(status.unreachable)
