"""What the command modules share: the settings click hands every command, the clock, one-line
failures, JSON output, warnings about members that did not answer, and the poll limits of waits.

`main` (root.py) puts a `_Settings` in click's `obj`: --addr, --timeout-s, --retries-max, --ca,
--insecure and the `Clock`. A command makes its `Client` from it (`settings.client()`), so the address is resolved
(--addr, else $RINGSTORE_ADDR, else a usage error) only by commands that talk to a node.

Time: commands read the wall clock (maintenance time left) and wait (drain polls) through a
`Clock`; tests pass a manual one as click's `obj`, so an hour-long drain runs in no time with exact
output, and nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import click

from nodectl.client.encryption import EncryptionKey
from nodectl.cli.formatting import _count, unreachable_warning
from nodectl.client import Client
from nodectl.client.connection import CA_ENV
from ringstore.auth.credentials import load_profile
from nodectl.errors import InvalidArgument, Unavailable, one_line


ADDRESS_ENV = "RINGSTORE_ADDR"
# Exit code after Ctrl-C, as shells report a SIGINT death.
EXIT_INTERRUPTED = 130
# `node drain` polls the node this often by default; more often only loads it, less often only
# reports LEFT later.
DRAIN_POLL_S_DEFAULT = 1.0
DRAIN_POLL_S_MIN = 0.1
DRAIN_POLL_S_MAX = 3600.0
# Longest `node drain` waits for LEFT (and its default): a node's worth of data at a throttled
# repair rate can take days; past a week something is stuck and a person should look.
DRAIN_WAIT_S_MAX = 7 * 24 * 3600.0


# The --node-only flag's help, shared by the repair and scrub commands.
NODE_ONLY_HELP = "Only the node at --addr; default: every ALIVE member, through it."


def resolve_address(flag: str | None, env: Mapping[str, str], fallback: str | None = None) -> str:
    """The node address: --addr if given, else RINGSTORE_ADDR, else `fallback` (the profile's),
    else a usage error naming both."""
    if flag:
        return flag
    from_env = env.get(ADDRESS_ENV, "").strip()
    if from_env:
        return from_env
    if fallback:
        return fallback
    raise click.UsageError(f"no node address: pass --addr HOST:PORT or set {ADDRESS_ENV}")


def _wall_unix_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclasses.dataclass(frozen=True)
class Clock:
    """The time commands read and wait on. The real one by default; a test passes its own as
    click's `obj` (`CliRunner().invoke(main, args, obj=clock)`)."""

    monotonic_s: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    unix_ms: Callable[[], int] = _wall_unix_ms


class _Settings:
    def __init__(self, addr: str | None, timeout_s: float, retries_max: int, clock: Clock, *,
                 ca_file: str | None = None, insecure: bool | None = None, profile: str | None = None,
                 direct_reads: bool = True) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        self.retries_max = retries_max
        self.clock = clock
        self.ca_file = ca_file
        self.insecure = insecure
        self.profile = profile
        self.direct_reads = direct_reads

    def client(self, *, unsigned: bool = False, encryption_key_file: str | None = None) -> Client:
        """A Client as the flags, the environment and the profile say (in that order). `unsigned`:
        no access key (admin init, which proves the cluster key instead). `encryption_key_file`: a
        client-side encryption key (`nodectl key init`)."""
        try:
            profile = load_profile(self.profile)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
        ca_file = self.ca_file
        if ca_file is None and not self.insecure and not os.environ.get(CA_ENV) and profile is not None:
            ca_file = profile.ca
        return Client(address=resolve_address(self.addr, os.environ, profile.address if profile else None), timeout_s=self.timeout_s,
                      retries_max=self.retries_max, ca_file=ca_file, insecure=self.insecure,
                      credentials=False if unsigned else None, profile=self.profile, sleep=self.clock.sleep,
                      direct_reads=self.direct_reads,
                      encryption_key=EncryptionKey.load(encryption_key_file) if encryption_key_file else None)


def _fail(message: str, exit_code: int) -> NoReturn:
    click.echo(f"nodectl: error: {one_line(message)}", err=True)
    sys.exit(exit_code)


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True))


def _warn_unreachable(unreachable: Sequence[str]) -> None:
    for entry in unreachable:
        click.echo(unreachable_warning(entry), err=True)


def not_applied_error(what: str, unreachable: Sequence[str]) -> Unavailable:
    """The error a fan-out action ends with when some ALIVE members did not answer (exit 4)."""
    return Unavailable(f"{what} not applied on {_count(len(unreachable), 'node')} that did not "
                       f"answer ({'; '.join(unreachable)}); run it again once they do")


def parse_tags(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """{name: value} of NAME=VALUE arguments; InvalidArgument for one without `=` or a repeated name."""
    tags: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidArgument(f"tag {pair[:60]!r} is not NAME=VALUE")
        if name in tags:
            raise InvalidArgument(f"tag {name[:60]!r} is given twice")
        tags[name] = value
    return tags
