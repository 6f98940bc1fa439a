"""`admin init|tenant|key`: the cluster's first operator key, tenants and their access keys.

`init` is the one command that needs no access key: it proves knowledge of the cluster key by
reading a node's `--cluster-secret-file` (ringstore/auth/bootstrap.py). It prints the key id and
the secret once, and with `--save-profile NAME` writes them (with the address and CA it used) to
the credentials file, 0600, so later commands take `--profile NAME` or RINGSTORE_PROFILE.
"""

from __future__ import annotations

import datetime

import click

from nodectl.cli.common import _print_json, _Settings
from nodectl.cli.formatting import format_table
from ringstore.auth.credentials import Credentials, credentials_path, write_profile


@click.group("admin")
def admin_group() -> None:
    """Cluster administration: the operator key (init), tenants and their access keys."""


@admin_group.command("init")
@click.option("--cluster-secret-file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="A node's cluster secret file (proves you may make the operator key).")
@click.option("--save-profile", metavar="NAME", default=None,
              help="Also write the key, address and CA to this profile of the credentials file.")
@click.option("--description", default="", help="A note kept with the key.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (with the secret, this once).")
@click.pass_obj
def init_command(settings: _Settings, cluster_secret_file: str, save_profile: str | None, description: str,
                 as_json: bool) -> None:
    """Make the cluster's first operator key and print its secret (shown once)."""
    with open(cluster_secret_file, "rb") as f:
        cluster_key = f.read().strip()
    with settings.client(unsigned=True) as client:
        result = client.init_cluster(cluster_key, description=description)
        address, ca_file = client.address, client.ca_file
    saved = None
    if save_profile:
        saved = write_profile(credentials_path(), save_profile, Credentials(result.key_id, result.secret), ca=ca_file,
                              address=address)
    if as_json:
        _print_json({"key_id": result.key_id, "secret": result.secret, "created": result.created,
                     "profile_file": str(saved) if saved else None})
        return
    click.echo(f"operator key: {result.key_id}")
    click.echo(f"secret:       {result.secret}   (shown once: keep it safe)")
    if saved:
        click.echo(f"saved as profile {save_profile!r} in {saved} (mode 0600); use: nodectl --profile {save_profile}")
    else:
        click.echo(f"use it: export RINGSTORE_ACCESS_KEY_ID={result.key_id} RINGSTORE_SECRET_ACCESS_KEY=...,"
                   f" or save it with --save-profile NAME (file {credentials_path()})")


def _when(unix_ms: int) -> str:
    if not unix_ms:
        return "-"
    return datetime.datetime.fromtimestamp(unix_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


@admin_group.group("tenant")
def tenant_group() -> None:
    """Tenants: who owns buckets (operator only)."""


@tenant_group.command("create")
@click.argument("name")
@click.option("--description", default="", help="A note kept with the tenant.")
@click.pass_obj
def tenant_create(settings: _Settings, name: str, description: str) -> None:
    """Create tenant NAME (2-63 of a-z, 0-9, '-')."""
    with settings.client() as client:
        tenant = client.create_tenant(name, description=description)
    click.echo(f"created tenant {tenant.name}; give it a key with: nodectl admin key create --tenant {tenant.name}")


@tenant_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def tenant_ls(settings: _Settings, as_json: bool) -> None:
    """List the tenants."""
    with settings.client() as client:
        tenants = client.list_tenants()
    if as_json:
        _print_json([t.to_dict() for t in tenants])
        return
    click.echo("\n".join(format_table(("TENANT", "CREATED (UTC)", "DESCRIPTION"),
                                      ((t.name, _when(t.created_at_unix_ms), t.description or "-") for t in tenants))))


@tenant_group.command("rm")
@click.argument("name")
@click.pass_obj
def tenant_rm(settings: _Settings, name: str) -> None:
    """Remove tenant NAME (it must own no bucket); its keys are revoked."""
    with settings.client() as client:
        revoked = client.delete_tenant(name)
    click.echo(f"removed tenant {name}; revoked {revoked} key(s)")


@admin_group.group("key")
def key_group() -> None:
    """Access keys of tenants (operator only)."""


@key_group.command("create")
@click.option("--tenant", required=True, help="The tenant the key acts for.")
@click.option("--read-only", is_flag=True, help="Reads only (get, stat, ls).")
@click.option("--bucket", default="", help="Only this bucket.")
@click.option("--prefix", default="", help="Only keys starting with this prefix.")
@click.option("--expires-in", default=None, metavar="DURATION", help="Lifetime, e.g. 12h, 7d, 2w (default: none).")
@click.option("--description", default="", help="A note kept with the key.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (with the secret, this once).")
@click.pass_obj
def key_create(settings: _Settings, tenant: str, read_only: bool, bucket: str, prefix: str,
               expires_in: str | None, description: str, as_json: bool) -> None:
    """Make an access key for TENANT and print its secret (shown once)."""
    with settings.client() as client:
        made = client.create_key(tenant, read_only=read_only, bucket=bucket, prefix=prefix, expires_in=expires_in,
                                 description=description)
    if as_json:
        _print_json({**made.key.to_dict(), "secret": made.secret})
        return
    click.echo(f"access key: {made.key.key_id} (tenant {made.key.tenant})")
    click.echo(f"secret:     {made.secret}   (shown once: keep it safe)")


@key_group.command("ls")
@click.option("--tenant", default="", help="Only this tenant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (never secrets).")
@click.pass_obj
def key_ls(settings: _Settings, tenant: str, as_json: bool) -> None:
    """List access keys: id, tenant, state, scopes, expiry (never a secret)."""
    with settings.client() as client:
        keys = client.list_keys(tenant)
    if as_json:
        _print_json([k.to_dict() for k in keys])
        return

    def scopes(k) -> str:
        parts = (["read-only"] if k.read_only else []) + ([f"bucket={k.bucket}"] if k.bucket else []) + (
            [f"prefix={k.prefix}"] if k.prefix else [])
        return ",".join(parts) or "-"

    click.echo("\n".join(format_table(
        ("KEY", "TENANT", "ROLE", "STATE", "SCOPES", "EXPIRES (UTC)", "DESCRIPTION"),
        ((k.key_id, k.tenant, k.role, k.state, scopes(k), _when(k.expires_at_unix_ms), k.description or "-")
         for k in keys))))


@key_group.command("revoke")
@click.argument("key_id")
@click.pass_obj
def key_revoke(settings: _Settings, key_id: str) -> None:
    """Revoke KEY_ID: every node refuses it within a few seconds."""
    with settings.client() as client:
        info = client.revoke_key(key_id)
    click.echo(f"revoked {info.key_id} (tenant {info.tenant}) at {_when(info.revoked_at_unix_ms)} UTC; every node "
               "refuses it within 2 s")


# -- encryption at rest: the master keyring and the data keys under it --------------------------


@admin_group.group("master-key")
def master_key_group() -> None:
    """The master keyring every node reads for encryption at rest (--master-key-file): a local file."""


def _keyring_call(call):
    from ringstore.auth.masterkeys import KeyringError
    from nodectl.errors import InvalidArgument
    try:
        return call()
    except KeyringError as err:
        raise InvalidArgument(str(err)) from None
    except OSError as err:
        raise InvalidArgument(f"cannot write the master key file: {err}") from None


@master_key_group.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
def master_key_add(file: str) -> None:
    """Add a new random master key to FILE (made, mode 0600, if missing) as its primary: it wraps
    data keys made from now on. Give the file to every node (then SIGHUP them, or restart) before
    `nodectl admin rewrap-keys` moves every data key under it."""
    from ringstore.auth import masterkeys
    key = _keyring_call(lambda: masterkeys.add_new(file))
    ids = _keyring_call(lambda: masterkeys.load(file)).ids
    click.echo(f"added master key {key.key_id} to {file} as its primary ({len(ids)} key{'s' if len(ids) > 1 else ''}: "
               f"{', '.join(ids)})")
    if len(ids) > 1:
        click.echo("next: copy the file to every node (mode 0600), SIGHUP or restart each, then run "
                   "`nodectl admin rewrap-keys`")


@master_key_group.command("ls")
@click.argument("file", type=click.Path(dir_okay=False))
def master_key_ls(file: str) -> None:
    """List the key ids in FILE, the primary last (never the keys)."""
    from ringstore.auth import masterkeys
    keyring = _keyring_call(lambda: masterkeys.load(file))
    for key_id in keyring.ids:
        click.echo(f"{key_id}{'  (primary)' if key_id == keyring.primary.key_id else ''}")


@master_key_group.command("remove")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("key_id")
def master_key_remove(file: str, key_id: str) -> None:
    """Remove KEY_ID from FILE once no data key is wrapped under it (after `nodectl admin
    rewrap-keys`); the primary cannot be removed."""
    from ringstore.auth import masterkeys
    left = _keyring_call(lambda: masterkeys.remove(file, key_id))
    click.echo(f"removed {key_id} from {file}; it holds {', '.join(left.ids)}; copy it to every node and SIGHUP them")


@admin_group.command("rewrap-keys")
@click.option("--dry-run", is_flag=True, help="Only count the data keys that would be re-wrapped.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def rewrap_keys(settings: _Settings, dry_run: bool, as_json: bool) -> None:
    """Wrap every tenant's data key (encryption at rest) under the primary master key, after
    checking that every ALIVE node holds that key; no chunk is rewritten. Then the other master
    keys may leave every node's keyring."""
    from nodectl.errors import FailedPrecondition
    with settings.client() as client:
        mine = client.node_status()
        if not mine.master_key_ids:
            raise FailedPrecondition(f"{mine.node_id} has no master key file (--master-key-file): give every node "
                                     "the keyring first")
        primary = mine.master_key_ids[-1]
        for member in client.cluster_status().members:
            if member.state != "ALIVE" or member.node_id == mine.node_id:
                continue
            theirs = client.node_status(member.node_id).master_key_ids
            if primary not in theirs:
                raise FailedPrecondition(
                    f"{member.node_id} does not hold master key {primary} (it has {', '.join(theirs) or 'none'}): "
                    "copy the keyring to every node and SIGHUP it before re-wrapping; nothing was changed")
        result = client.rewrap_data_keys(dry_run=dry_run)
    if as_json:
        _print_json(result.to_dict())
        return
    verb = "would re-wrap" if dry_run else "re-wrapped"
    click.echo(f"{result.data_keys} data keys: {verb} {result.rewrapped} under {result.primary_master_key_id}, "
               f"{result.already_current} already were")
    if not dry_run:
        click.echo(f"every data key is wrapped under {result.primary_master_key_id}; the other master keys may now "
                   "leave the keyring (`nodectl admin master-key remove FILE ID` on every node's copy)")
