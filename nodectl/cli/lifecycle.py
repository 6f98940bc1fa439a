"""`lifecycle set|get|rm|status`: a bucket's lifecycle rules and what the workers did with them.

`set BUCKET FILE.json` (or `-` for stdin) replaces the rules with a document's (the format is in
nodectl/client/lifecycle.py; `get` prints it back); `set BUCKET --rule id=...,prefix=...,expire-days=N`
takes rules as flags instead. `status` asks every ALIVE node what its worker did.
"""

from __future__ import annotations

import json
import sys

import click

from nodectl.cli.common import _print_json, _Settings
from nodectl.cli.formatting import format_table, human_bytes, iso_utc
from nodectl.client import rule_from_flags, rule_to_dict, rules_from_document
from nodectl.client.lifecycle import FLAG_NAMES
from nodectl.errors import InvalidArgument


@click.group("lifecycle")
def lifecycle_group() -> None:
    """A bucket's lifecycle rules: expiry, old versions, stale uploads, colder policies."""


@lifecycle_group.command("set")
@click.argument("bucket")
@click.argument("document", metavar="[FILE.json|-]", required=False)
@click.option("--rule", "flags", multiple=True, metavar="NAME=VALUE,...",
              help=f"One rule as flags ({', '.join(FLAG_NAMES)}); repeat for several. Not with FILE.")
@click.pass_obj
def set_command(settings: _Settings, bucket: str, document: str | None, flags: tuple[str, ...]) -> None:
    """Replace BUCKET's lifecycle rules with FILE.json's (or the --rule flags')."""
    if (document is None) == (not flags):
        raise click.UsageError("give the rules as FILE.json (- for stdin) or as --rule flags, one of the two")
    if document is not None:
        try:
            text = sys.stdin.read() if document == "-" else open(document, encoding="utf-8").read()
        except OSError as err:
            raise InvalidArgument(f"cannot read {document}: {err.strerror}") from None
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidArgument(f"{document} is not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
        rules = rules_from_document(parsed)
    else:
        rules = [rule_from_flags(text, index) for index, text in enumerate(flags)]
    with settings.client() as client:
        client.set_lifecycle(bucket, rules)
    click.echo(f"{bucket}: {len(rules)} lifecycle rule{'s' if len(rules) != 1 else ''} (every node within 2 s)")


@lifecycle_group.command("get")
@click.argument("bucket")
@click.pass_obj
def get_command(settings: _Settings, bucket: str) -> None:
    """Print BUCKET's rules as the JSON document `set` takes."""
    with settings.client() as client:
        rules = client.lifecycle(bucket)
    _print_json({"rules": [rule_to_dict(rule) for rule in rules]})


@lifecycle_group.command("rm")
@click.argument("bucket")
@click.pass_obj
def remove_command(settings: _Settings, bucket: str) -> None:
    """Remove every lifecycle rule of BUCKET."""
    with settings.client() as client:
        client.set_lifecycle(bucket, [])
    click.echo(f"{bucket}: no lifecycle rules")


@lifecycle_group.command("status")
@click.option("--node-only", is_flag=True, help="Only the node at --addr.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def status_command(settings: _Settings, node_only: bool, as_json: bool) -> None:
    """What each node's lifecycle worker did since it started: objects expired, versions and delete
    markers removed, uploads aborted, objects and bytes converted, backlog, last pass."""
    with settings.client() as client:
        status = client.lifecycle_status(this_node_only=node_only)
    if as_json:
        _print_json(status.to_dict())
    else:
        rows = [[n.node_id, str(n.buckets_owned), str(n.objects_expired), str(n.versions_removed),
                 str(n.markers_removed), str(n.uploads_aborted), f"{n.objects_converted} ({human_bytes(n.bytes_converted)})",
                 str(n.backlog), str(n.errors),
                 iso_utc(n.last_pass_finished_unix_ms) if n.last_pass_finished_unix_ms else "never"]
                for n in status.nodes]
        click.echo("\n".join(format_table(
            ["NODE", "BUCKETS", "EXPIRED", "VERSIONS", "MARKERS", "UPLOADS", "CONVERTED", "BACKLOG", "ERRORS",
             "LAST PASS"], rows, right=(1, 2, 3, 4, 5, 7, 8))))
    for entry in status.unreachable:
        click.echo(f"warning: {entry}", err=True)
