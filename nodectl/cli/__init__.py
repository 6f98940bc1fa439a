"""`nodectl`: the thin command line over `nodectl.client`.

Each command parses its arguments, makes one or two client calls and formats the result; channels,
deadlines, retries and validation belong to the client. The small pure functions here (address
resolution, BUCKET/KEY and range parsing, table formatting) are what the unit tests pin down.
Output meant for scripts is `--json` (one JSON document on stdout); tables are for people.

One module per command group, so a command is found by its name:

    objects      mb, rb, ls, put, get, rm, stat, convert
    cluster      status; ring plan add|drain
    node         node status|drain|maintenance
    repair       repair status|wait|set
    fsck         fsck
    scrub        scrub start|status
    admin        admin init|tenant|key
    bucket       bucket grant|revoke|set|info
    share        share BUCKET/KEY, share ls|revoke (links that read one object without a key)
    root         the `nodectl` group itself: global flags, one-line errors and exit codes, and the
                 wiring of the modules above

and what they share: `common` (the settings and clock click hands each command, one-line failures,
JSON output, warnings about members that did not answer, the poll limits of waits), `formatting`
(pure text: tables, sizes, durations, member flags) and `progress` (the progress line on stderr
and the views of a wait). Every name is imported here as well, so `from nodectl.cli import X`
works for all of them, and the console script is `nodectl.cli:main`.

Reports and actions: `repair status`, `fsck` and `scrub status` are reports. `repair status` and
`scrub status` exit 0 whatever they show, and warn on stderr (`warning: node-4 did not answer:
...`) about ALIVE members that did not answer. `fsck` exits by what it found: 0 all chunks full,
10 (EXIT_DEGRADED) some below full but readable, 5 (EXIT_DATA_LOSS) some unreadable, so a cron job
can alert on it without parsing. `repair set` and `scrub start` are actions: they print the nodes
that applied them and exit 4 (unavailable) when some member did not answer, since the cluster then
runs with mixed settings. Rejected: exiting non-zero from `repair status` when there is debt; debt
after a node loss is normal work in progress, and a status command that "fails" then is useless in
a loop.

Dependency order: formatting <- common <- progress <- objects, cluster, node, repair, fsck, scrub,
admin, bucket <- share <- root <- this `__init__`. Command modules do not import one another, nor
the root, but for `share`, which takes BUCKET/KEY and --range as `get` does (objects' parsers).

Rejected alternative: one module for every command. At 1600 lines, before tenants, keys, grants,
presigning, versions and lifecycle each add a group, finding `node drain` meant paging past the
formatting of every other report.
"""

from __future__ import annotations

# Everything below is re-exported: these are the names `nodectl.cli` has always offered.
from nodectl.cli.cluster import (
    MEMBER_STATES_ORDER,
    _report_plan,
    format_ring_plan,
    format_status,
    handover_line,
    partial_plan_warning,
    plan_ideal,
    ring_group,
    ring_plan_add_command,
    ring_plan_drain_command,
    ring_plan_group,
    status_command,
)
from nodectl.cli.common import (
    ADDRESS_ENV,
    DRAIN_POLL_S_DEFAULT,
    DRAIN_POLL_S_MAX,
    DRAIN_POLL_S_MIN,
    DRAIN_WAIT_S_MAX,
    EXIT_INTERRUPTED,
    NODE_ONLY_HELP,
    Clock,
    _fail,
    _print_json,
    _Settings,
    _wall_unix_ms,
    _warn_unreachable,
    not_applied_error,
    resolve_address,
)
from nodectl.cli.formatting import (
    _aligned,
    _count,
    _is_ec,
    duration_text,
    eta_text,
    format_table,
    human_bytes,
    iso_utc,
    percent_text,
    rate_text,
    short_duration_text,
    state_flags_text,
    unreachable_warning,
    utc_text,
)
from nodectl.cli.fsck import (
    format_finding,
    format_fsck_summary,
    format_metadata_finding,
    fsck_command,
    fsck_exit_code,
)
from nodectl.cli.node import (
    DrainView,
    disk_text,
    drain_line,
    format_node_status,
    holdings_text,
    left_clause,
    left_text,
    maintenance_text,
    node_drain_command,
    node_group,
    node_maintenance_command,
    node_status_command,
    wait_for_drain,
)
from nodectl.cli.objects import (
    EC_HELP,
    LS_SIZE_WIDTH,
    _binary,
    _unbuffered_stdin,
    convert_command,
    format_buckets,
    format_convert_result,
    format_object_header,
    format_object_line,
    format_stat,
    get_command,
    holder_role,
    list_command,
    make_bucket,
    parse_policy_flags,
    parse_range,
    physical_text,
    policy_flags_text,
    put_command,
    remove_bucket,
    remove_command,
    split_bucket_key,
    split_bucket_prefix,
    stat_command,
)
from nodectl.cli.progress import (
    PROGRESS_MIN_BYTES,
    PROGRESS_REDRAW_S,
    Progress,
    _progress,
    _stderr_is_terminal,
    _WaitView,
)
from nodectl.cli.repair import (
    REPAIR_POLL_S_DEFAULT,
    RepairStuck,
    RepairView,
    _repair_settled_view,
    format_repair_status,
    level_text,
    repair_config_text,
    repair_done,
    repair_group,
    repair_scans_fresh,
    repair_set_command,
    repair_status_command,
    repair_stuck,
    repair_summary_line,
    repair_wait_command,
    wait_for_repair,
)
from nodectl.cli.root import _Nodectl, _os_error_text, _silence_stdout, main
from nodectl.cli.share import share_create, share_group, share_ls, share_revoke
from nodectl.cli.scrub import (
    _scrub_checked_text,
    format_scrub_status,
    scrub_group,
    scrub_start_command,
    scrub_status_command,
)
# What the single module imported from the client and the errors, importable from here as before.
from nodectl.client import (
    EC_SHARES_MAX,
    FSCK_FINDINGS_MAX,
    LIST_PAGE_SIZE_MAX,
    LIVE_STATES,
    MAINTENANCE_S_MAX,
    RETRIES_MAX_LIMIT,
    UINT32_MAX,
    UINT64_MAX,
    BucketInfo,
    Client,
    ClusterStatus,
    ConvertProgress,
    ConvertResult,
    FsckFinding,
    FsckMetadataFinding,
    FsckProgress,
    FsckReport,
    FsckSummary,
    Member,
    MemberStatus,
    NodeScrubStatus,
    NodeStatus,
    ObjectInfo,
    ObjectStat,
    RedundancyLevel,
    RepairStatus,
    RingPlan,
    ScrubStatus,
    validate_bucket,
    validate_key,
    validate_policy,
    validate_prefix,
)
from nodectl.errors import (
    EXIT_CODES_HELP,
    EXIT_CONFLICT,
    EXIT_DATA_LOSS,
    EXIT_DEGRADED,
    EXIT_OK,
    EXIT_OTHER,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    RingstoreError,
    Unavailable,
    from_rpc_error,
    one_line,
)
