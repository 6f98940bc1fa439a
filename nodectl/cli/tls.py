"""`tls init-ca|issue-node|issue-client|show`: the certificates a TLS cluster runs on.

Local commands: they read and write files only (nodectl.tls does the work) and never talk to a
node. Each prints one line per file written, and `show` what a certificate says (identity, SANs,
validity), so an operator can check a file before handing it to a node.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from nodectl import tls
from nodectl.cli.common import _print_json
from nodectl.cli.formatting import duration_text

DAYS_HELP = f"Validity in days, 1..{tls.CERT_DAYS_MAX}."


def _written(issued: tls.Issued) -> None:
    click.echo(f"wrote {issued.key_path} (private key, mode 0600)")
    click.echo(f"wrote {issued.cert_path} (valid until {issued.not_after:%Y-%m-%d %H:%M:%S} UTC)")


@click.group("tls")
def tls_group() -> None:
    """Make the cluster CA and the node and client certificates (local files only)."""


@tls_group.command("init-ca")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for ca.key and ca.crt (made 0700; must not hold a CA already).")
@click.option("--days", type=int, default=tls.CA_DAYS, show_default=True, help=DAYS_HELP)
def init_ca_command(directory: Path, days: int) -> None:
    """Make a cluster CA: an ECDSA P-256 key and a self-signed certificate. Keep ca.key off the nodes."""
    _written(tls.init_ca(directory, days=days))


@tls_group.command("issue-node")
@click.argument("node_id")
@click.option("--ca", "ca_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The CA directory (from init-ca).")
@click.option("--san", "sans", multiple=True, metavar="HOST_OR_IP",
              help="A host name or IP address the node is reached at; repeat for each.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for NODE_ID.key and NODE_ID.crt (default: the CA directory).")
@click.option("--days", type=int, default=tls.CERT_DAYS_DEFAULT, show_default=True, help=DAYS_HELP)
def issue_node_command(node_id: str, ca_dir: Path, sans: tuple[str, ...], out_dir: Path | None, days: int) -> None:
    """Issue a node's certificate (server and client use), naming NODE_ID and its addresses."""
    _written(tls.issue_node(ca_dir, node_id, list(sans), out_dir=out_dir, days=days))


@tls_group.command("issue-client")
@click.argument("name")
@click.option("--ca", "ca_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The CA directory (from init-ca).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for NAME.key and NAME.crt (default: the CA directory).")
@click.option("--days", type=int, default=tls.CERT_DAYS_DEFAULT, show_default=True, help=DAYS_HELP)
def issue_client_command(name: str, ca_dir: Path, out_dir: Path | None, days: int) -> None:
    """Issue a client-only certificate for NAME."""
    _written(tls.issue_client(ca_dir, name, out_dir=out_dir, days=days))


@tls_group.command("show")
@click.argument("cert_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def show_command(cert_file: Path, as_json: bool) -> None:
    """Show what a certificate says: subject, identity, SANs, validity and time left."""
    info = tls.describe(cert_file.read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    left_s = info.expires_in_s(now)
    if as_json:
        _print_json({"subject": info.subject, "issuer": info.issuer, "identity": info.identity,
                     "dns_names": list(info.dns_names), "ip_addresses": list(info.ip_addresses),
                     "not_before": info.not_before.isoformat(), "not_after": info.not_after.isoformat(),
                     "is_ca": info.is_ca, "expires_in_s": left_s})
        return
    click.echo(f"subject   {info.subject}{' (CA)' if info.is_ca else ''}")
    click.echo(f"issuer    {info.issuer}")
    if info.identity:
        click.echo(f"identity  {info.identity}")
    if info.dns_names or info.ip_addresses:
        click.echo(f"SANs      {', '.join([*info.dns_names, *info.ip_addresses])}")
    state = f"expires in {duration_text(left_s)}" if left_s > 0 else f"EXPIRED {duration_text(-left_s)} ago"
    click.echo(f"valid     {info.not_before:%Y-%m-%d %H:%M:%S} to {info.not_after:%Y-%m-%d %H:%M:%S} UTC ({state})")
