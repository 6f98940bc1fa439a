"""`admin init`: the cluster's first operator key (tenants, keys and quotas join this group next).

`init` is the one command that needs no access key: it proves knowledge of the cluster key by
reading a node's `--cluster-secret-file` (ringstore/auth/bootstrap.py). It prints the key id and
the secret once, and with `--save-profile NAME` writes them (with the address and CA it used) to
the credentials file, 0600, so later commands take `--profile NAME` or RINGSTORE_PROFILE.
"""

from __future__ import annotations

import click

from nodectl.cli.common import _print_json, _Settings
from ringstore.auth.credentials import Credentials, credentials_path, write_profile


@click.group("admin")
def admin_group() -> None:
    """Cluster administration: the operator key (init)."""


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
