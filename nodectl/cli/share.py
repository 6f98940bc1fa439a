"""`share BUCKET/KEY`, `share ls`, `share revoke`: links that let someone with no account read one
object; `get --link TOKEN OUT` (objects.py) uses one.

`share BUCKET/KEY [--expires-in 1h] [--range A-B]` prints the link's token once, like an access
key's secret: keep it as you would the object. `share ls` shows links (id, object, range, grantor,
expiry, state), never tokens; `share revoke LINK_ID` stops a link on every node within a few
seconds. Revoking the access key that made a link (`admin key revoke`) stops its links too.

`share` is a group whose default command makes a link: `share photos/cat.jpg` is
`share create photos/cat.jpg`, while `share ls` and `share revoke` name their subcommands (no bucket
can be called `ls`, names being 3 to 63 characters; a bucket called `revoke` is shared as
`share create revoke/KEY`).
"""

from __future__ import annotations

import urllib.parse

import datetime

import click

from nodectl.cli.common import _print_json, _Settings
from nodectl.cli.formatting import duration_text, format_table
from nodectl.cli.objects import parse_range, split_bucket_key
from nodectl.client import ShareLinkInfo


class _ShareGroup(click.Group):
    """A group whose first argument, when it names no subcommand, is the object to share."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["create", *args]
        return super().parse_args(ctx, args)


def _utc(unix_ms: int) -> str:
    if not unix_ms:
        return "-"
    return datetime.datetime.fromtimestamp(unix_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@click.group("share", cls=_ShareGroup)
def share_group() -> None:
    """Share links: let someone with no account read one object (BUCKET/KEY makes one)."""


@share_group.command("create")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--expires-in", default=None, metavar="DURATION",
              help="Lifetime, e.g. 90s, 15m, 12h, 7d (default 1h, at most 30d; never past your key's).")
@click.option("--range", "byte_range", default=None, metavar="START-END",
              help="Only bytes START..END (inclusive); START- to the end.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (with the token, this once).")
@click.option("--endpoint", envvar="RINGSTORE_S3_ENDPOINT", default=None, metavar="URL",
              help="A node's S3 port (else RINGSTORE_S3_ENDPOINT): also print the link as a URL any HTTP "
                   "client (curl, a browser) can read.")
@click.pass_obj
def share_create(settings: _Settings, target: str, expires_in: str | None, byte_range: str | None,
                 as_json: bool, endpoint: str | None) -> None:
    """Make a link to BUCKET/KEY and print its token (shown once), and its URL on an S3 port."""
    bucket, key = split_bucket_key(target)
    start, length = (None, None) if byte_range is None else parse_range(byte_range)
    with settings.client() as client:
        made = client.create_share_link(bucket, key, expires_in=expires_in, range_start_bytes=start,
                                        range_length_bytes=length)
    url = link_url(endpoint, bucket, key, made.token) if endpoint else ""
    if as_json:
        _print_json({**made.link.to_dict(), "token": made.token, **({"url": url} if url else {})})
        return
    link = made.link
    left_s = (link.expires_at_unix_ms - settings.clock.unix_ms()) / 1000
    click.echo(f"share link {link.link_id} for {link.bucket}/{link.key} ({link.range_text}), read-only, expires "
               f"{_utc(link.expires_at_unix_ms)} UTC (in {duration_text(max(0.0, left_s))})")
    click.echo("token (shown once; whoever holds it can read the object until then: nodectl get --link TOKEN OUT):")
    click.echo(made.token)
    if url:
        click.echo("URL (the same link over HTTPS: curl, a browser):")
        click.echo(url)


def link_url(endpoint: str, bucket: str, key: str, token: str) -> str:
    """The share link as a URL of a node's S3 port (node/s3/gateway.py reads x-ringstore-link)."""
    return (f"{endpoint.rstrip('/')}/{urllib.parse.quote(bucket, safe='')}/{urllib.parse.quote(key, safe='/')}"
            f"?x-ringstore-link={urllib.parse.quote(token, safe='')}")


@share_group.command("ls")
@click.argument("bucket", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (never tokens).")
@click.pass_obj
def share_ls(settings: _Settings, bucket: str | None, as_json: bool) -> None:
    """List share links (of BUCKET): id, object, range, grantor, expiry, state; never tokens."""
    with settings.client() as client:
        found = client.list_share_links(bucket or "")
    if as_json:
        _print_json([link.to_dict() for link in found])
        return
    click.echo("\n".join(format_table(
        ("LINK", "OBJECT", "RANGE", "GRANTOR", "EXPIRES (UTC)", "STATE"),
        (_row(link) for link in found))))


def _row(link: ShareLinkInfo) -> tuple[str, ...]:
    return (link.link_id, f"{link.bucket}/{link.key}", link.range_text.removeprefix("bytes "),
            f"{link.key_id} ({link.tenant})", _utc(link.expires_at_unix_ms), link.state)


@share_group.command("revoke")
@click.argument("link_id")
@click.pass_obj
def share_revoke(settings: _Settings, link_id: str) -> None:
    """Revoke LINK_ID: every node refuses it within a few seconds."""
    with settings.client() as client:
        link = client.revoke_share_link(link_id)
    click.echo(f"revoked share link {link.link_id} ({link.bucket}/{link.key}) at {_utc(link.revoked_at_unix_ms)} "
               "UTC; every node refuses it within 2 s")
