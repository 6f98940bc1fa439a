"""`find BUCKET [conditions]`: a bucket's current objects by tag, metadata, type, size and time.

Answered from the nodes' indexes (node/store/index.py): a query costs what matches its most
selective condition, not what the bucket holds. Conditions combine with AND; `--tag` and `--meta`
repeat. Sizes take units (10MB, 1GiB); times are ISO dates or moments (2026-12-01, 2026-12-01T12:00,
UTC unless they say otherwise) or an age before now (7d, 12h).
"""

from __future__ import annotations

import datetime
import time

import click

from nodectl.cli.common import _print_json, _Settings, parse_tags
from nodectl.cli.objects import format_object_header, format_object_line
from nodectl.cli.usage import SizeParam
from nodectl.errors import InvalidArgument
from ringstore.auth.keys import parse_duration


def parse_moment(text: str, option: str) -> int:
    """Unix ms of an ISO date or moment (UTC unless it names a zone), or of now minus a duration."""
    try:
        return int((time.time() - parse_duration(text)) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{option} {text[:40]!r} is not a date (2026-12-01), a moment (2026-12-01T12:00) or an "
                              "age (7d, 12h)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


@click.command("find")
@click.argument("bucket")
@click.option("--prefix", default="", help="Keys starting with this.")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="Carrying this tag; repeat for several.")
@click.option("--meta", "metadata", multiple=True, metavar="NAME=VALUE", help="With this user metadata entry; repeat.")
@click.option("--type", "content_type", default="", metavar="TYPE", help="Content type: image/png, or image/*.")
@click.option("--larger-than", type=SizeParam(), default=None, help="Strictly larger than SIZE.")
@click.option("--smaller-than", type=SizeParam(), default=None, help="Strictly smaller than SIZE.")
@click.option("--modified-after", default=None, metavar="WHEN", help="Written after WHEN (a date, a moment or an age).")
@click.option("--modified-before", default=None, metavar="WHEN", help="Written before WHEN.")
@click.option("--page-size", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def find_command(settings: _Settings, bucket: str, prefix: str, tags: tuple[str, ...], metadata: tuple[str, ...],
                 content_type: str, larger_than: int | None, smaller_than: int | None, modified_after: str | None,
                 modified_before: str | None, page_size: int, as_json: bool) -> None:
    """List BUCKET's current objects meeting every condition given."""
    after = parse_moment(modified_after, "--modified-after") if modified_after else None
    before = parse_moment(modified_before, "--modified-before") if modified_before else None
    with settings.client() as client:
        found = client.find(bucket, prefix=prefix, tags=parse_tags(tags), metadata=parse_tags(metadata),
                            content_type=content_type, larger_than=larger_than, smaller_than=smaller_than,
                            modified_after_unix_ms=after, modified_before_unix_ms=before, page_size=page_size)
        if as_json:
            _print_json({"bucket": bucket, "objects": [info.to_dict() for info in found]})
            return
        first = next(found, None)
        click.echo(format_object_header())
        if first is not None:
            click.echo(format_object_line(first))
            for info in found:
                click.echo(format_object_line(info))
