"""`bucket grant|revoke|set|info`: who may use a bucket besides its owner.

A grant gives another tenant "read" (get, stat, ls), "write" (also put, rm, convert) or "owner"
(also grant, public read, rb) rights on one bucket; `--public-read on` lets anyone read it without a
key. The bucket's owner tenant, a tenant with owner rights, or the operator may change them; a
change is in force on every node within 2 s.
"""

from __future__ import annotations

import datetime

import click

from nodectl.cli.common import _print_json, _Settings
from nodectl.cli.formatting import human_bytes
from nodectl.cli.usage import stored_text, quota_text
from nodectl.client import BucketAccess


def _access_lines(access: BucketAccess) -> list[str]:
    grants = ", ".join(f"{tenant}={level}" for tenant, level in access.grants.items()) or "none"
    return [f"owner:       {access.owner or '(the operator)'}", f"grants:      {grants}",
            f"public read: {'on' if access.public_read else 'off'}"]


@click.group("bucket")
def bucket_group() -> None:
    """A bucket's grants, public read and details."""


@bucket_group.command("grant")
@click.argument("bucket")
@click.option("--tenant", required=True, help="The tenant to give rights to.")
@click.option("--read", "level", flag_value="read", help="get, stat, ls.")
@click.option("--write", "level", flag_value="write", help="Also put, rm, convert.")
@click.option("--owner", "level", flag_value="owner", help="Also grant, public read, rb.")
@click.pass_obj
def grant_command(settings: _Settings, bucket: str, tenant: str, level: str | None) -> None:
    """Give TENANT read, write or owner rights on BUCKET."""
    if not level:
        raise click.UsageError("say which rights: --read, --write or --owner")
    with settings.client() as client:
        access = client.grant_bucket(bucket, tenant, level)
    click.echo(f"granted {level} on {bucket} to tenant {tenant}")
    click.echo("\n".join(_access_lines(access)))


@bucket_group.command("revoke")
@click.argument("bucket")
@click.option("--tenant", required=True, help="The tenant whose rights end.")
@click.pass_obj
def revoke_command(settings: _Settings, bucket: str, tenant: str) -> None:
    """Take TENANT's rights on BUCKET away."""
    with settings.client() as client:
        access = client.grant_bucket(bucket, tenant, "")
    click.echo(f"tenant {tenant} has no rights on {bucket} now (every node within 2 s)")
    click.echo("\n".join(_access_lines(access)))


@bucket_group.command("set")
@click.argument("bucket")
@click.option("--public-read", type=click.Choice(["on", "off"]), default=None,
              help="on: anyone may get, stat and ls its objects without a key.")
@click.option("--versioning", type=click.Choice(["enabled", "suspended"]), default=None,
              help="enabled: every put and rm keeps the versions before it; suspended: puts replace the "
                   "null version again (versions kept so far stay).")
@click.option("--compression", type=click.Choice(["zstd", "none"]), default=None,
              help="zstd: puts that do not say store their chunks compressed where that saves space.")
@click.option("--encryption", type=click.Choice(["on", "off"]), default=None,
              help="on: puts that do not say have their chunks encrypted at rest by the nodes (AES-256-GCM under "
                   "the owner's data key; every node needs --master-key-file).")
@click.pass_obj
def set_command(settings: _Settings, bucket: str, public_read: str | None, versioning: str | None,
                compression: str | None, encryption: str | None) -> None:
    """Change BUCKET's settings: public read on or off, versioning enabled or suspended,
    compression zstd or none, encryption at rest on or off (objects already stored keep their
    chunks as they are)."""
    if public_read is None and versioning is None and compression is None and encryption is None:
        raise click.UsageError("say what to change: --public-read on|off, --versioning enabled|suspended, "
                               "--compression zstd|none and/or --encryption on|off")
    with settings.client() as client:
        if encryption is not None:
            record = client.set_encryption(bucket, encryption == "on")
            click.echo(f"encryption:  {record.encryption} at rest (every node within 2 s)")
        if compression is not None:
            record = client.set_compression(bucket, compression)
            click.echo(f"compression: {record.compression} (every node within 2 s)")
        if versioning is not None:
            record = client.set_versioning(bucket, versioning)
            click.echo(f"versioning:  {record.versioning} (every node within 2 s)")
        if public_read is not None:
            access = client.set_public_read(bucket, public_read == "on")
            click.echo("\n".join(_access_lines(access)))


@bucket_group.command("info")
@click.argument("bucket")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def info_command(settings: _Settings, bucket: str, as_json: bool) -> None:
    """Show BUCKET's policy, owner, grants, public read, usage and quota."""
    with settings.client() as client:
        details = client.bucket_info(bucket)
    if as_json:
        _print_json(details.to_dict())
        return
    created = datetime.datetime.fromtimestamp(details.bucket.created_at_unix_ms / 1000, datetime.timezone.utc)
    click.echo(f"bucket:      {details.bucket.name}")
    click.echo(f"policy:      {details.bucket.policy or 'cluster default'}")
    click.echo(f"created:     {created:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"versioning:  {details.bucket.versioning}")
    click.echo(f"compression: {details.bucket.compression}")
    click.echo(f"encryption:  {details.bucket.encryption} at rest")
    click.echo("\n".join(_access_lines(details.access)))
    if details.usage is not None:
        used = details.usage
        click.echo(f"objects:     {used.objects} ({used.tombstones} deleted, not yet purged)")
        click.echo(f"bytes:       {human_bytes(used.logical_bytes)} logical ({used.logical_bytes} bytes), "
                   f"{stored_text(used.physical_bytes, used.dedup_saved_bytes)}")
        if used.noncurrent_versions:
            click.echo(f"versions:    {used.noncurrent_versions} kept behind current ones, "
                       f"{human_bytes(used.noncurrent_bytes)} ({used.noncurrent_bytes} bytes; counted against byte "
                       "quotas)")
        if used.upload_bytes:
            click.echo(f"uploading:   {human_bytes(used.upload_bytes)} in parts of unfinished uploads "
                       f"({used.upload_bytes} bytes; counted against byte quotas)")
        click.echo(f"quota:       {quota_text(used.quota)}")
