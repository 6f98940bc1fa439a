"""`tag set|get|rm`: an object version's tags (BUCKET/KEY) or a bucket's own (BUCKET).

Tags are NAME=VALUE pairs: at most 10 per object and 50 per bucket, names of 1..128 characters and
values of up to 256 (S3's limits). `set` replaces the whole set; `rm` removes it. Changing an
object's tags never changes its bytes or its version id.
"""

from __future__ import annotations

import click

from nodectl.cli.common import _print_json, _Settings, parse_tags
from nodectl.cli.objects import split_bucket_key


def _target(text: str) -> tuple[str, str]:
    return split_bucket_key(text, key_required=False) if "/" in text else (text, "")


@click.group("tag")
def tag_group() -> None:
    """Tags of an object (BUCKET/KEY) or of a bucket (BUCKET)."""


@tag_group.command("set")
@click.argument("target", metavar="BUCKET/KEY|BUCKET")
@click.argument("pairs", metavar="NAME=VALUE...", nargs=-1, required=True)
@click.option("--version", "version", default="", metavar="ID", help="Tag this version instead of the current one.")
@click.pass_obj
def set_command(settings: _Settings, target: str, pairs: tuple[str, ...], version: str) -> None:
    """Replace the tags of TARGET with NAME=VALUE pairs."""
    bucket, key = _target(target)
    tags = parse_tags(pairs)
    with settings.client() as client:
        if key:
            client.set_tags(bucket, key, tags, version=version)
        elif version:
            raise click.UsageError("--version names a version of an object: give BUCKET/KEY")
        else:
            client.set_bucket_tags(bucket, tags)
    click.echo(f"{target}: {len(tags)} tag{'s' if len(tags) != 1 else ''}")


@tag_group.command("get")
@click.argument("target", metavar="BUCKET/KEY|BUCKET")
@click.option("--version", "version", default="", metavar="ID", help="This version's tags.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def get_command(settings: _Settings, target: str, version: str, as_json: bool) -> None:
    """Print the tags of TARGET, one NAME=VALUE per line."""
    bucket, key = _target(target)
    with settings.client() as client:
        tags = client.stat(bucket, key, version=version).info.tags if key else client.bucket_info(bucket).bucket.tags
    if as_json:
        _print_json(tags)
    else:
        for name, value in sorted(tags.items()):
            click.echo(f"{name}={value}")


@tag_group.command("rm")
@click.argument("target", metavar="BUCKET/KEY|BUCKET")
@click.option("--version", "version", default="", metavar="ID", help="This version's tags.")
@click.pass_obj
def remove_command(settings: _Settings, target: str, version: str) -> None:
    """Remove every tag of TARGET."""
    bucket, key = _target(target)
    with settings.client() as client:
        if key:
            client.set_tags(bucket, key, {}, version=version)
        else:
            client.set_bucket_tags(bucket, {})
    click.echo(f"{target}: no tags")
