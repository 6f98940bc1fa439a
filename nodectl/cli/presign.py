"""`nodectl presign BUCKET/KEY`: an S3 presigned URL (ringstore.auth.s3sign) that lets anyone holding
it get (or put) one object through a node's S3 port until it expires, with curl or a browser and no
key of their own. Made here, offline, from the caller's access key; the port checks it."""

from __future__ import annotations

import click

from nodectl.cli.common import _Settings
from nodectl.cli.objects import split_bucket_key
from ringstore.auth.credentials import resolve
from ringstore.auth.keys import parse_duration
from ringstore.auth.s3sign import EXPIRES_MAX_S, presign_url

ENDPOINT_ENV = "RINGSTORE_S3_ENDPOINT"


@click.command("presign")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--expires-in", default="15m", show_default=True, metavar="DURATION",
              help="Lifetime, e.g. 90s, 15m, 12h, 7d (at most 7d).")
@click.option("--method", type=click.Choice(["GET", "PUT"]), default="GET", show_default=True,
              help="GET reads the object; PUT stores the request's body as it.")
@click.option("--endpoint", envvar=ENDPOINT_ENV, default=None, metavar="URL",
              help=f"A node's S3 port, https://HOST:PORT (else {ENDPOINT_ENV}; cluster-sim env exports it).")
@click.option("--region", default="ringstore", show_default=True, help="The nodes' --s3-region.")
@click.pass_obj
def presign_command(settings: _Settings, target: str, expires_in: str, method: str, endpoint: str | None,
                    region: str) -> None:
    """Print a presigned S3 URL for BUCKET/KEY, signed with your access key."""
    bucket, key = split_bucket_key(target)
    if not endpoint:
        raise click.UsageError(f"give the S3 endpoint: --endpoint https://HOST:PORT of a node's S3 port, or set "
                               f"{ENDPOINT_ENV}")
    try:
        seconds = parse_duration(expires_in)
        credentials = resolve(profile=settings.profile)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if credentials is None:
        raise click.UsageError("a presigned URL is signed with your access key: give --profile NAME, or set "
                               "RINGSTORE_ACCESS_KEY_ID and RINGSTORE_SECRET_ACCESS_KEY")
    if not 1 <= seconds <= EXPIRES_MAX_S:
        raise click.UsageError(f"--expires-in {expires_in}: a presigned URL lives 1 s to 7 days")
    try:
        url = presign_url(endpoint, bucket, key, key_id=credentials.key_id, secret=credentials.secret, method=method,
                          expires_s=int(seconds), region=region)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(url)
