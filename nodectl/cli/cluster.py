"""Cluster commands: `status` (members, states, ring shares, health), and `ring plan add|drain`
(what a ring change would move, before anything moves).

`ring plan add|drain NODE` is a report like `repair status` (unreachable members are warnings and
the plan is marked partial), with one exception: layouts that could not be placed after the change
exit 6 (EXIT_CONFLICT, the failed-precondition code), the answer DrainNode would give to the same
change, so a script can run the plan as a gate before the drain.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import click
import grpc

from nodectl.cli.common import _print_json, _Settings, _warn_unreachable
from nodectl.cli.formatting import (
    _count,
    format_table,
    human_bytes,
    percent_text,
    state_flags_text,
)
from nodectl.client import UINT64_MAX, ClusterStatus, Handover, RingPlan
from nodectl.errors import EXIT_CONFLICT, RingstoreError, one_line
from ringstore.tls import CERT_EXPIRY_WARNING_S


# Members states in the order `status` summarises them.
MEMBER_STATES_ORDER = ("ALIVE", "SUSPECT", "DOWN", "OUT", "LEFT", "UNSPECIFIED")


def format_status(status: ClusterStatus, *, now_unix_ms: int, handover: Handover | str | None = None) -> list[str]:
    """The `status` report: NODE STATE GEN ADDRESS ZONE RING% table (STATE with the member's
    flags: draining, maintenance time left, disk full), then the summary lines; `handover` is the
    metadata handover answer, or why it could not be had."""
    lines = format_table(
        ("NODE", "STATE", "GEN", "ADDRESS", "ZONE", "RING%"),
        ((m.node_id, state_flags_text(m, now_unix_ms=now_unix_ms), str(m.generation), m.address,
          m.zone or "-", f"{100 * m.ring_share:.1f}") for m in status.members))
    counts: dict[str, int] = {}
    for m in status.members:
        counts[m.state] = counts.get(m.state, 0) + 1
    order = list(MEMBER_STATES_ORDER) + sorted(set(counts) - set(MEMBER_STATES_ORDER))
    by_state = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s)) or "none"
    lines += [
        "",
        f"health: {status.health or '-'} (as seen by {status.node_id or '?'}, "
        f"software {status.software_version or '?'})",
        f"members: {by_state}",
        f"repair debt: {status.repair_debt_chunks} chunks",
    ]
    if handover is not None:
        lines.append(handover_line(handover))
    return lines + certificate_warnings(status, now_unix_ms=now_unix_ms)


def handover_line(handover: Handover | str) -> str:
    """One line: whether every member has handed its metadata partitions to the homes of the ring
    they all use, and if not, who has what left."""
    if isinstance(handover, str):
        return f"metadata handover: unknown ({handover})"
    if handover.done:
        return (f"metadata handover: done (ring {handover.rings[0]:016x}, "
                f"{_count(len(handover.nodes), 'live member')})")
    rings = handover.rings
    usual = max(rings, key=lambda r: sum(1 for n in handover.nodes if n.current_ring_fingerprint == r), default=0)
    left = []
    for node in handover.nodes:
        if node.done and node.current_ring_fingerprint == usual:
            continue
        if not node.metadata_ok:
            left.append(f"{node.node_id} refilling its metadata")
        elif node.current_ring_fingerprint != usual:
            left.append(f"{node.node_id} on ring {node.current_ring_fingerprint:016x}")
        elif node.partitions_pending:
            left.append(f"{node.node_id} {_count(node.partitions_pending, 'partition')} pending")
        elif node.partitions_waiting:
            left.append(f"{node.node_id} {_count(node.partitions_waiting, 'partition')} waiting for a home "
                        "that is not live")
        else:
            left.append(f"{node.node_id} not yet passed on this ring")
    left += [f"{reason.split(':', 1)[0]} did not answer" for reason in handover.unreachable]
    return f"metadata handover: in progress on ring {usual:016x}: " + "; ".join(left)


def certificate_warnings(status: ClusterStatus, *, now_unix_ms: int) -> list[str]:
    """One line per live member whose TLS certificate has expired or expires within
    CERT_EXPIRY_WARNING_S, soonest first."""
    soon_ms = now_unix_ms + int(CERT_EXPIRY_WARNING_S * 1000)
    expiring = sorted((m.tls_not_after_unix_ms, m.node_id) for m in status.members
                      if m.state in ("ALIVE", "SUSPECT") and 0 < m.tls_not_after_unix_ms < soon_ms)
    lines = []
    for not_after_ms, node_id in expiring:
        when = datetime.datetime.fromtimestamp(not_after_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        if not_after_ms <= now_unix_ms:
            lines.append(f"warning: {node_id}'s TLS certificate expired at {when} UTC: its peers refuse it; issue "
                         f"a new one and send the node SIGHUP")
        else:
            days = (not_after_ms - now_unix_ms) / 86_400_000
            lines.append(f"warning: {node_id}'s TLS certificate expires in {days:.1f} days ({when} UTC): issue a "
                         f"new one and send the node SIGHUP")
    return lines


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def status_command(settings: _Settings, as_json: bool) -> None:
    """Show the cluster's members, their states and ring shares, health, repair debt and
    metadata handover."""
    with settings.client() as client:
        status = client.cluster_status()
        try:
            handover: Handover | str = client.handover()
        except RingstoreError as err:  # a node of an older release, or one that stopped meanwhile
            handover = ("the node that answered is of a release that does not report it"
                        if err.code == grpc.StatusCode.UNIMPLEMENTED else f"{err.code.name}: {one_line(str(err))}")
    if as_json:
        document = status.to_dict()
        document["metadata_handover"] = (
            {"error": handover} if isinstance(handover, str) else {**handover.to_dict(), "done": handover.done})
        _print_json(document)
    else:
        click.echo("\n".join(format_status(status, now_unix_ms=settings.clock.unix_ms(), handover=handover)))


def plan_ideal(plan: RingPlan, ring_members_after: int | None) -> tuple[float, str]:
    """The least a change can move, as a fraction of the copies, and how it is reckoned: for an
    add, the new node's fair share, 1 / (ring members after, which only an add needs); for a
    drain, the copies the drained node holds (all of which must go, whatever the ring does)."""
    if plan.change == "add":
        assert ring_members_after, "an add plan needs the ring's size after the add"
        fraction = 1 / ring_members_after
        return fraction, (f"ideal for add to {ring_members_after} ring members: "
                          f"1/{ring_members_after} = {percent_text(fraction)}")
    own = plan.copies_from(plan.node_id)
    fraction = own / plan.copies_total if plan.copies_total else 0.0
    return fraction, (f"ideal for drain: {plan.node_id}'s own "
                      f"{_count(own, 'copy', 'copies')} = {percent_text(fraction)}")


def format_ring_plan(plan: RingPlan, ideal: str) -> list[str]:
    """The `ring plan` report: SOURCE TARGET COPIES BYTES (a share rebuilt from K others has the
    source "(rebuild)"), the totals against the ideal, then the layouts that could not be placed.
    Unreachable members are warned about separately."""
    lines = format_table(
        ("SOURCE", "TARGET", "COPIES", "BYTES"),
        ((m.source_node_id or "(rebuild)", m.target_node_id, str(m.copies), human_bytes(m.bytes))
         for m in plan.moves),
        right=(2, 3)) if plan.moves else []
    lines.append(f"moves {plan.copies_moved} of {_count(plan.copies_total, 'copy', 'copies')} "
                 f"({percent_text(plan.moved_fraction)}), {human_bytes(plan.bytes_moved)} of "
                 f"{human_bytes(plan.bytes_total)}; {ideal}")
    if plan.layouts_unplaceable:
        lines.append(f"unplaceable: {_count(plan.layouts_unplaceable, 'chunk layout')} could not "
                     f"be placed after this {plan.change}, for example:")
        lines += [f"  {one_line(reason)}" for reason in plan.unplaceable_reasons]
    return lines


def partial_plan_warning(unreachable: Sequence[str]) -> str:
    """The line that says a plan left out the layouts of members that did not answer."""
    return (f"warning: plan is partial: {_count(len(unreachable), 'member')} did not answer; "
            "the chunk layouts they are responsible for are not counted")


@click.group("ring")
def ring_group() -> None:
    """The consistent-hash ring: preview what a change would move."""


@ring_group.group("plan")
def ring_plan_group() -> None:
    """What adding or draining a node would move, before anything moves.

    Exits 6 when some chunk layouts could not be placed after the change (too few ring members
    for their policy), which is what the drain itself would be refused for."""


def _report_plan(plan: RingPlan, ring_members_after: int | None, as_json: bool) -> None:
    """Print a plan (table or JSON), warn about a partial one, exit 6 if anything is unplaceable."""
    ideal_fraction, ideal = plan_ideal(plan, ring_members_after)
    if as_json:
        document = plan.to_dict()
        document.update(moved_fraction=plan.moved_fraction, ideal_fraction=ideal_fraction)
        _print_json(document)
    else:
        click.echo("\n".join(format_ring_plan(plan, ideal)))
    _warn_unreachable(plan.unreachable)
    if plan.unreachable:
        click.echo(partial_plan_warning(plan.unreachable), err=True)
    if plan.layouts_unplaceable:
        click.get_current_context().exit(EXIT_CONFLICT)


@ring_plan_group.command("add")
@click.argument("node_id", metavar="NODE")
@click.option("--zone", default="", metavar="Z", help="The new node's zone.")
@click.option("--capacity-bytes", type=click.IntRange(0, UINT64_MAX), default=0, metavar="N",
              help="The new node's capacity (its ring weight); default: the ring's median.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def ring_plan_add_command(settings: _Settings, node_id: str, zone: str, capacity_bytes: int,
                          as_json: bool) -> None:
    """Show the copies and bytes that adding NODE would move, by source and target, against the
    ideal 1 / (ring members after). Exits 6 when some layouts could not be placed."""
    with settings.client() as client:
        plan = client.plan_ring("add", node_id, zone=zone, capacity_bytes=capacity_bytes)
        ring_members_after = len(client.ring().ownership) + 1
    _report_plan(plan, ring_members_after, as_json)


@ring_plan_group.command("drain")
@click.argument("node_id", metavar="NODE")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def ring_plan_drain_command(settings: _Settings, node_id: str, as_json: bool) -> None:
    """Show the copies and bytes that draining NODE would move, by source and target, against
    the copies NODE holds. Exits 6 when some layouts could not be placed after the drain."""
    with settings.client() as client:
        plan = client.plan_ring("drain", node_id)
    _report_plan(plan, None, as_json)
