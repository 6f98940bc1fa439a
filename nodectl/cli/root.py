"""The `nodectl` group: its global flags, one stderr line and exit code per failure, and the wiring
of every command module.

Errors: every failure is one line on stderr, `nodectl: error: <message>`, and the exit code of its
class (see `nodectl.errors`); the group's `main` catches client errors, gRPC errors, local file
errors and click's usage errors, so neither a user mistake nor a cluster failure shows a traceback.

Commands are plain click commands and groups in their own modules, added to `main` at the end of
this one, so no command module imports the root and every command is listed in one place.

Rejected alternative: click's default error handling. It prints a multi-line usage block for
usage errors and a traceback for anything else, and its exit codes cannot say "not found" from
"cluster unavailable", which scripts need to tell apart.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import grpc

from nodectl.cli.usage import quota_group, usage_command
from nodectl.cli.admin import admin_group
from nodectl.cli.bucket import bucket_group
from nodectl.cli.cluster import ring_group, status_command
from nodectl.cli.common import ADDRESS_ENV, EXIT_INTERRUPTED, Clock, _fail, _Settings
from nodectl.cli.fsck import fsck_command
from nodectl.cli.lifecycle import lifecycle_group
from nodectl.cli.tags import tag_group
from nodectl.cli.find import find_command
from nodectl.cli.sync import sync_command
from nodectl.cli.watch import watch_command
from nodectl.cli.encryption_keys import key_group
from nodectl.cli.node import node_group
from nodectl.cli.objects import (
    convert_command,
    get_command,
    list_command,
    make_bucket,
    put_command,
    remove_bucket,
    remove_command,
    rollback_command,
    stat_command,
    versions_command,
)
from nodectl.cli.repair import repair_group
from nodectl.cli.scrub import scrub_group
from nodectl.cli.presign import presign_command
from nodectl.cli.share import share_group
from nodectl.cli.tls import tls_group
from nodectl.client import RETRIES_MAX_LIMIT
from ringstore.memory import bound_malloc_arenas
from nodectl.errors import EXIT_CODES_HELP, EXIT_OTHER, RingstoreError, from_rpc_error


def _os_error_text(err: OSError) -> str:
    if err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


class _Nodectl(click.Group):
    """The root group: turns every failure into one stderr line and its exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        bound_malloc_arenas()  # before any channel starts a thread (ringstore/memory.py)
        try:
            result = super().main(args, prog_name or "nodectl", complete_var,
                                  standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:
            # A group run without a command: its help, as click prints it, not an error line.
            err.show()
            sys.exit(err.exit_code)
        except click.ClickException as err:
            hint = ""
            context = getattr(err, "ctx", None)
            if isinstance(err, click.UsageError) and context is not None:
                hint = f" (see '{context.command_path} --help')"
            _fail(err.format_message() + hint, err.exit_code)
        except click.Abort:
            _fail("interrupted", EXIT_INTERRUPTED)
        except RingstoreError as err:
            _fail(str(err), err.exit_code)
        except grpc.RpcError as err:  # a path the client did not translate; still one line
            error = from_rpc_error(err)
            _fail(str(error), error.exit_code)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_OTHER)
        except OSError as err:
            _fail(_os_error_text(err), EXIT_OTHER)
        # With standalone_mode=False click returns the exit code for --help and ctx.exit().
        sys.exit(result if isinstance(result, int) else 0)


def _silence_stdout() -> None:
    """After a closed pipe on stdout, keep Python from failing again when it flushes at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


@click.group(cls=_Nodectl, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--addr", metavar="HOST:PORT", default=None,
              help=f"Node to talk to (any node of the cluster); default ${ADDRESS_ENV}.")
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, metavar="S",
              help="Deadline of one request; streams add 1 s per 10 MB moved.")
@click.option("--retries-max", type=click.IntRange(0, RETRIES_MAX_LIMIT), default=3,
              show_default=True, metavar="N",
              help="Retries of a request the node answers UNAVAILABLE (or cannot be reached).")
@click.option("--ca", "ca_file", metavar="FILE", default=None,
              help="The cluster's CA certificate, to trust the node's TLS certificate; default $RINGSTORE_CA, "
                   "else the system's CAs.")
@click.option("--insecure", is_flag=True, default=None,
              help="Plaintext, for a cluster started with --insecure (default $RINGSTORE_INSECURE=1).")
@click.option("--profile", default=None, metavar="NAME",
              help="Access key (and address, CA) from this profile of ~/.config/ringstore/credentials; "
                   "default $RINGSTORE_PROFILE, else 'default'. RINGSTORE_ACCESS_KEY_ID and "
                   "RINGSTORE_SECRET_ACCESS_KEY, when set, come first.")
@click.option("--direct-reads/--no-direct-reads", default=True, show_default=True,
              envvar="RINGSTORE_DIRECT_READS",
              help="Read chunks from, and write large replicated puts' copies to, the nodes holding them "
                   "when the node offers it (default $RINGSTORE_DIRECT_READS); off: every byte goes through "
                   "--addr, for a client that can reach only that node.")
@click.pass_context
def main(ctx: click.Context, addr: str | None, timeout_s: float, retries_max: int, ca_file: str | None,
         insecure: bool | None, profile: str | None, direct_reads: bool) -> None:
    """Ringstore command line: buckets, objects, share links, cluster status, node operations, ring
    plans, repair, fsck and scrub."""
    clock = ctx.obj if isinstance(ctx.obj, Clock) else Clock()
    if ca_file and insecure:
        raise click.UsageError("--ca and --insecure exclude each other: a CA is for TLS")
    ctx.obj = _Settings(addr, timeout_s, retries_max, clock, ca_file=ca_file, insecure=insecure or None,
                        profile=profile, direct_reads=direct_reads)


# Every top-level command and group (`nodectl --help` lists them sorted by name).
main.add_command(make_bucket)
main.add_command(remove_bucket)
main.add_command(list_command)
main.add_command(put_command)
main.add_command(get_command)
main.add_command(remove_command)
main.add_command(stat_command)
main.add_command(versions_command)
main.add_command(lifecycle_group)
main.add_command(tag_group)
main.add_command(find_command)
main.add_command(watch_command)
main.add_command(sync_command)
main.add_command(key_group)
main.add_command(rollback_command)
main.add_command(convert_command)
main.add_command(status_command)
main.add_command(repair_group)
main.add_command(fsck_command)
main.add_command(scrub_group)
main.add_command(node_group)
main.add_command(ring_group)
main.add_command(tls_group)
main.add_command(admin_group)
main.add_command(bucket_group)
main.add_command(usage_command)
admin_group.add_command(quota_group)
main.add_command(share_group)
main.add_command(presign_command)
