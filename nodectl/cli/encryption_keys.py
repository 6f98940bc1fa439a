"""`key init --out FILE`: a client-side encryption key (nodectl/client/encryption.py).

The key never leaves the client: `put --encrypt --key FILE` encrypts with it before sending, and
`get --key FILE` decrypts. Lose the file and the objects encrypted under it are lost: keep a copy
somewhere safe. The file is written only if it does not exist yet, readable by its owner only.
"""

from __future__ import annotations

import click

from nodectl.client.encryption import EncryptionKey


@click.group("key")
def key_group() -> None:
    """Client-side encryption keys (the cluster never sees them)."""


@key_group.command("init")
@click.option("--out", "out", required=True, metavar="FILE", help="Where to write the new key (must not exist).")
def key_init_command(out: str) -> None:
    """Make a new 256-bit key in FILE (owner-only); prints its id, which objects encrypted under it name."""
    key = EncryptionKey.new()
    key.save(out)
    click.echo(f"wrote key {key.key_id} to {out}: keep a copy; objects encrypted under it cannot be read without it")
