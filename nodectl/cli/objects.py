"""Bucket and object commands: mb, rb, ls, put, get, rm, stat, convert.

Redundancy flags: `mb`, `put` and `convert` take `--replicas N` or `--ec K+M` (never both: a usage
error, exit 2). The K+M text is parsed by the client's `parse_ec`, before any file is read or any
request sent, so a typo costs nothing and reads like the node's own message would.

`stat` shows, per chunk, one line per holder: `copy N` under replication, `share I (data)` or
`share I (parity)` under erasure coding (I below K is a data share), with the node's state and
`handoff for X` when the copy stands in for a DOWN node. Indexes are the placement record's own
(from 0), so they match `stat --json`.

`get` writes to a temporary file beside the destination and renames it into place only after
the last byte arrived (and, for whole objects, matched its blake3), so a failed or interrupted get
never leaves a half-written file under the destination name.
"""

from __future__ import annotations

import mimetypes
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from nodectl.cli.common import _print_json, _Settings, parse_tags
from nodectl.cli.formatting import _aligned, _count, format_table, human_bytes, iso_utc
from nodectl.cli.progress import Progress, _progress
from nodectl.client import (
    EC_SHARES_MAX,
    LIST_PAGE_SIZE_MAX,
    BucketInfo,
    ConvertProgress,
    ConvertResult,
    ObjectInfo,
    ObjectStat,
    validate_bucket,
    validate_key,
    validate_policy,
    validate_prefix,
)
from nodectl.client import resumable
from nodectl.client.files import write_atomically
from nodectl.client.reuse import TransferStats
from nodectl.errors import FailedPrecondition, InvalidArgument, NotFound, RingstoreError
from ringstore.auth.keys import parse_duration


def split_bucket_key(text: str, *, key_required: bool = True) -> tuple[str, str]:
    """(bucket, key) of "BUCKET/KEY", both validated; the key may hold more slashes.

    With key_required=False, "BUCKET" and "BUCKET/" give an empty key (the caller fills it in).
    """
    bucket, sep, key = text.partition("/")
    if not sep and key_required:
        raise InvalidArgument(f"expected BUCKET/KEY, got {text!r}")
    validate_bucket(bucket)
    if key or key_required:
        validate_key(key)
    return bucket, key


def split_bucket_prefix(text: str) -> tuple[str, str]:
    """(bucket, prefix) of "BUCKET" or "BUCKET/PREFIX"."""
    bucket, _, prefix = text.partition("/")
    validate_bucket(bucket)
    validate_prefix(prefix)
    return bucket, prefix


def parse_range(text: str) -> tuple[int, int | None]:
    """(start_bytes, length_bytes or None) of "START-END" (END inclusive) or "START-"."""
    usage = f"range {text!r} is not START-END or START- (byte offsets, END inclusive)"
    start_text, sep, end_text = text.partition("-")
    if not sep or not start_text.isdigit() or not (end_text == "" or end_text.isdigit()):
        raise InvalidArgument(usage)
    start = int(start_text)
    if end_text == "":
        return start, None
    end = int(end_text)
    if end < start:
        raise InvalidArgument(f"range {text!r} ends before it starts")
    return start, end - start + 1


def parse_policy_flags(replicas: int | None, ec: str | None, *,
                       required: bool = False) -> tuple[int | None, tuple[int, int] | None]:
    """(replicas, (K, M) or None) from --replicas and --ec; usage error when both (or, if
    `required`, neither) are given, InvalidArgument (exit 2) for a bad K+M."""
    if replicas is not None and ec is not None:
        raise click.UsageError("give either --replicas or --ec, not both")
    if required and replicas is None and ec is None:
        raise click.UsageError("give the target policy: --ec K+M or --replicas N")
    return replicas, validate_policy(replicas, ec)


def policy_flags_text(replicas: int | None, ec: tuple[int, int] | None) -> str:
    """"replicas=N" or "ec=K+M" as the flags asked for, in the node's own spelling; "" for neither."""
    if replicas is not None:
        return f"replicas={replicas}"
    if ec is not None:
        return f"ec={ec[0]}+{ec[1]}"
    return ""


def format_buckets(buckets: Sequence[BucketInfo]) -> list[str]:
    """The `ls` table of buckets: NAME  POLICY (the default redundancy, "replicas=3" or "ec=4+2")."""
    return format_table(("NAME", "POLICY"), ((b.name, b.policy or "-") for b in buckets))


# Width of the SIZE column of `ls`: fixed so object listings can stream page by page.
LS_SIZE_WIDTH = 12


def format_object_line(info: ObjectInfo) -> str:
    """One `ls` line: SIZE  MODIFIED(UTC ISO)  KEY."""
    return f"{info.size_bytes:>{LS_SIZE_WIDTH}}  {iso_utc(info.created_at_unix_ms):<20}  {info.key}"


def format_object_header() -> str:
    return f"{'SIZE':>{LS_SIZE_WIDTH}}  {'MODIFIED':<20}  KEY"


def holder_role(ec: tuple[int, int] | None, share_index: int) -> str:
    """"copy N" under replication; "share I (data)" or "share I (parity)" under ec=K+M."""
    if ec is None:
        return f"copy {share_index}"
    return f"share {share_index} ({'data' if share_index < ec[0] else 'parity'})"


def physical_text(stat: ObjectStat) -> str:
    """The `physical` line of `stat`: bytes on disk across the cluster and the ratio to logical."""
    info = stat.info
    if info.inline:
        return "0 bytes (inline in the manifest)"
    if stat.physical_bytes == 0 and info.size_bytes > 0:
        return "- (the node did not report it)"
    text = f"{stat.physical_bytes} bytes ({human_bytes(stat.physical_bytes)})"
    if info.size_bytes > 0:
        text += f", {stat.physical_bytes / info.size_bytes:.2f}x logical"
    return text


def format_stat(stat: ObjectStat) -> list[str]:
    """The `stat` report: the version, then each chunk and one line per holder with its role."""
    info = stat.info
    metadata = ", ".join(f"{k}={v}" for k, v in sorted(info.metadata.items())) or "-"
    lines = [
        f"{info.bucket}/{info.key}",
        f"  size        {info.size_bytes} bytes ({human_bytes(info.size_bytes)})",
        f"  physical    {physical_text(stat)}",
        f"  blake3      {info.blake3_hex or '-'}",
        f"  etag        {info.etag or '-'}{'' if not info.etag or info.etag.endswith('-1') else ' (MD5)'}",
        f"  version     {info.version_id or '-'}{' (delete marker)' if info.delete_marker else ''}"
        + (f"  stamp {info.version}" if info.version else ""),
        *([f"  written by  {info.written_by}"] if info.written_by else []),
        *([f"  tags        {', '.join(f'{k}={v}' for k, v in sorted(info.tags.items()))}"] if info.tags else []),
        f"  policy      {info.policy or '-'}",
        f"  type        {info.content_type or '-'}",
        f"  created     {iso_utc(info.created_at_unix_ms)}",
        *([f"  expires     {iso_utc(info.expires_at_unix_ms)}"] if info.expires_at_unix_ms else []),
        *([f"  last read   {iso_utc(info.read_at_unix_ms)} (for lifecycle transitions)"] if info.read_at_unix_ms else []),
        f"  metadata    {metadata}",
        *([f"  headers     {', '.join(f'{k}: {v}' for k, v in sorted(info.headers.items()))}"] if info.headers else []),
        f"  stored      {'inline in the manifest' if info.inline else f'{info.chunk_count} chunks'}"
        + (f", {stat.stored_bytes} bytes once ({stat.compressed_chunks} zstd-compressed, "
           f"{stat.stored_bytes / info.size_bytes:.2f}x logical)" if stat.compressed_chunks and info.size_bytes else "")
        + (f", {stat.encrypted_chunks} encrypted at rest (AES-256-GCM)" if stat.encrypted_chunks else ""),
    ]
    for index, chunk in enumerate(stat.chunks):
        if chunk.compression:
            packed = f"  zstd {chunk.plain_size_bytes} -> {chunk.size_bytes} bytes  {chunk.plain_blake3_hex[:16]}"
        elif chunk.encryption:
            packed = f"  {chunk.plain_size_bytes} bytes  {chunk.plain_blake3_hex[:16]} (keyed)"
        else:
            packed = f"  {chunk.size_bytes} bytes  {chunk.chunk_id_hex[:16]}"
        if chunk.encryption:
            packed += f"  encrypted under {chunk.data_key_id}"
        lines.append(f"  chunk {index}  offset {chunk.offset_bytes}{packed}")
        rows = [[holder_role(info.ec, h.share_index), h.node_id, h.state,
                 f"handoff for {h.handoff_for_node_id}" if h.handoff_for_node_id else ""]
                for h in chunk.holders]
        lines += ["    " + row for row in _aligned(rows)] or ["    no holders"]
    return lines


def format_convert_result(bucket: str, key: str, result: ConvertResult, asked: str) -> str:
    """The one line `convert` prints; `asked` is the policy the flags named (shown if the node's
    reply names none)."""
    name = f"{bucket}/{key}"
    policy = result.info.policy or asked
    if result.unchanged:
        return f"{name} already has {policy}; nothing to do"
    return (f"converted {name} to {policy}: "
            f"{_count(result.info.chunk_count, 'chunk')} rewritten, "
            f"{_count(result.copies_released, 'old copy', 'old copies')} released "
            f"({result.copies_still_referenced} still referenced, "
            f"{result.copies_not_reached} not reached)")


def _binary(stream: Any) -> Any:
    """The byte stream under a text stdio stream (sys.stdin.buffer), or the stream itself."""
    return getattr(stream, "buffer", stream)


def _unbuffered_stdin() -> Any:
    """stdin's file descriptor as an unbuffered binary file, for `put -`.

    The client reads a pipe from gRPC's sending thread. Through sys.stdin.buffer that thread holds
    the buffer's lock while it waits on a slow producer; when the put fails meanwhile (the node
    went away) and the main thread exits, the interpreter cannot take that lock at shutdown and
    aborts (`Fatal Python error: _enter_buffered_busy`, exit 134). An unbuffered read holds no lock
    while it blocks. Nothing has read stdin before this, so no buffered bytes are skipped. Without
    a descriptor (a test's in-memory stdin), the stream itself."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return _binary(sys.stdin)
    return open(fd, "rb", buffering=0, closefd=False)


# The --ec flag's help, shared by mb, put and convert.
EC_HELP = (f"Erasure-code every chunk into K data + M parity shares, any K of which rebuild it "
           f"(K, M >= 1; K+M at most {EC_SHARES_MAX} and at most the live nodes).")


@click.command("mb")
@click.argument("bucket")
@click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
              help="Copies of every chunk (default: the cluster's policy).")
@click.option("--ec", default=None, metavar="K+M", help=EC_HELP + " Not with --replicas.")
@click.pass_obj
def make_bucket(settings: _Settings, bucket: str, replicas: int | None, ec: str | None) -> None:
    """Create BUCKET, whose objects default to --replicas N or --ec K+M."""
    replicas, shares = parse_policy_flags(replicas, ec)
    with settings.client() as client:
        info = client.create_bucket(bucket, replicas=replicas, ec=shares)
    click.echo(f"created bucket {info.name} ({info.policy or 'cluster default policy'})")


@click.command("rb")
@click.argument("bucket")
@click.pass_obj
def remove_bucket(settings: _Settings, bucket: str) -> None:
    """Remove BUCKET, which must be empty."""
    with settings.client() as client:
        client.delete_bucket(bucket)
    click.echo(f"removed bucket {bucket}")


@click.command("ls")
@click.argument("target", required=False, metavar="[BUCKET[/PREFIX]]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--page-size", type=click.IntRange(1, LIST_PAGE_SIZE_MAX), default=1000,
              show_default=True, metavar="N", help="Objects fetched per request.")
@click.pass_obj
def list_command(settings: _Settings, target: str | None, as_json: bool, page_size: int) -> None:
    """List buckets, or the objects of BUCKET whose keys start with PREFIX."""
    if target is None:
        with settings.client() as client:
            buckets = client.list_buckets()
        if as_json:
            _print_json({"buckets": [b.to_dict() for b in buckets]})
        else:
            click.echo("\n".join(format_buckets(buckets)))
        return
    bucket, prefix = split_bucket_prefix(target)
    with settings.client() as client:
        objects = client.list_objects(bucket, prefix=prefix, page_size=page_size)
        if as_json:
            _print_json({"bucket": bucket, "prefix": prefix,
                         "objects": [o.to_dict() for o in objects]})
            return
        first = next(objects, None)  # fail before printing a header when the bucket is missing
        click.echo(format_object_header())
        if first is not None:
            click.echo(format_object_line(first))
            for info in objects:
                click.echo(format_object_line(info))


@click.command("put")
@click.argument("local_path", metavar="LOCAL_PATH")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
              help="Copies of every chunk (default: the bucket's policy).")
@click.option("--ec", default=None, metavar="K+M", help=EC_HELP + " Not with --replicas.")
@click.option("--content-type", default=None, metavar="T",
              help="MIME type to record (default: guessed from LOCAL_PATH's name).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted put of this file to BUCKET/KEY from the parts already stored.")
@click.option("--if-match", default="", metavar="ETAG",
              help="Store only if BUCKET/KEY's current ETag is ETAG (and nothing else wrote it meanwhile).")
@click.option("--if-version", default="", metavar="ID",
              help="Store only if BUCKET/KEY's current version is ID (a version id, or the stamp `stat` shows).")
@click.option("--if-absent", is_flag=True, help="Store only if BUCKET/KEY does not exist.")
@click.option("--expires-in", default=None, metavar="DURATION",
              help="Delete the object this long after it is stored, e.g. 12h, 7d (reads stop finding it then).")
@click.option("--tag", "tag_pairs", multiple=True, metavar="NAME=VALUE", help="A tag of the new version; repeat.")
@click.option("--encrypt", is_flag=True, help="Encrypt in this client before sending, under --key (never sent).")
@click.option("--key", "key_file", default=None, metavar="FILE", help="The key --encrypt uses (nodectl key init).")
@click.option("--no-reuse", "reuse_chunks", flag_value=False, default=True,
              help="Send every chunk, even those BUCKET already stores.")
@click.option("--compress", "compression", type=click.Choice(["zstd", "none"]), default=None,
              help="Store the chunks zstd-compressed where that saves space, or not (default: the bucket's setting).")
@click.pass_obj
def put_command(settings: _Settings, local_path: str, target: str, replicas: int | None,
                ec: str | None, content_type: str | None, resume: bool, if_match: str, if_version: str,
                if_absent: bool, expires_in: str | None, tag_pairs: tuple[str, ...], encrypt: bool,
                key_file: str | None, reuse_chunks: bool, compression: str | None) -> None:
    """Store LOCAL_PATH (- for stdin) as BUCKET/KEY.

    A KEY that is empty or ends in / gets LOCAL_PATH's file name appended. --replicas N or
    --ec K+M override the bucket's policy for this object. A file over 64 MiB is sent in 16 MiB
    parts, each durable once sent: if the put is interrupted, `--resume` continues it (through
    any node) instead of starting over. --if-match, --if-version or --if-absent make the put
    conditional: of puts racing for one key with a condition exactly one wins, the others exit 6
    and store nothing (a put in parts checks the condition before sending any and again, deciding,
    when it completes). --tag works for every size; --expires-in for puts up to 64 MiB.
    A file larger than one chunk some of whose 4 MiB chunks BUCKET already stores (an earlier
    version of it, appended to or edited in place) sends only the other chunks, in one stream.
    """
    replicas, shares = parse_policy_flags(replicas, ec)
    bucket, key = split_bucket_key(target, key_required=False)
    if not key or key.endswith("/"):
        if local_path == "-":
            raise InvalidArgument("put from stdin needs a full BUCKET/KEY")
        key += Path(local_path).name
        validate_key(key)
    if content_type is None:
        content_type = "" if local_path == "-" else (mimetypes.guess_type(local_path)[0] or "")
    if local_path == "-":
        data: Any = _unbuffered_stdin()
        total_bytes = None
    else:
        path = Path(local_path)
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory", local_path)
        data = path
        total_bytes = path.stat().st_size
    if resume and total_bytes is None:
        raise InvalidArgument("--resume continues the put of a file, not of stdin")
    in_parts = resume or (total_bytes is not None and total_bytes > resumable.THRESHOLD_BYTES)
    expires_in_s = 0.0
    if expires_in is not None:
        try:
            expires_in_s = parse_duration(expires_in)
        except ValueError as err:
            raise InvalidArgument(f"--expires-in {expires_in!r}: {err}") from None
        if in_parts:
            raise InvalidArgument(f"--expires-in applies to puts sent whole, up to {resumable.THRESHOLD_BYTES} bytes")
    tags = parse_tags(tag_pairs)
    if encrypt and key_file is None:
        raise InvalidArgument("--encrypt needs --key FILE (make one with `nodectl key init --out FILE`)")
    if encrypt and local_path == "-":
        raise InvalidArgument("--encrypt reads a file, not stdin: save it to a file first")
    progress = _progress(f"put {bucket}/{key}", total_bytes)
    stats = TransferStats()
    with settings.client(encryption_key_file=key_file if encrypt else None) as client:
        try:
            # A file some of whose chunks the bucket already stores sends only the others, in one stream.
            info = (client.put_reusing(bucket, key, Path(local_path), replicas=replicas, ec=shares,
                                       content_type=content_type, progress=progress.update, if_match=if_match,
                                       if_version=if_version, if_absent=if_absent, tags=tags, stats=stats,
                                       compression=compression, encrypt=encrypt)
                    if reuse_chunks and not resume and not expires_in_s and local_path != "-"
                    else None)
            reused = info is not None
            if info is not None:
                in_parts = False
            elif in_parts:
                info = resumable.put_resumable(client, bucket, key, Path(local_path),
                                               state_dir=resumable.default_state_dir(), resume=resume,
                                               replicas=replicas, ec=shares, content_type=content_type,
                                               progress=progress.update, tags=tags, if_match=if_match,
                                               if_version=if_version, if_absent=if_absent,
                                               encryption_key=client.encryption_key, compression=compression)
            else:
                info = client.put(bucket, key, data, replicas=replicas, ec=shares,
                                  content_type=content_type, progress=progress.update, if_match=if_match,
                                  if_version=if_version, if_absent=if_absent, expires_in_s=expires_in_s,
                                  tags=tags, compression=compression)
        except (RingstoreError, KeyboardInterrupt) as err:
            if in_parts and not isinstance(err, (InvalidArgument, FailedPrecondition)):
                click.echo(f"the put stopped; the parts sent are kept: continue with `nodectl put --resume "
                           f"{local_path} {bucket}/{key}`", err=True)
            raise
        finally:
            progress.finish()
    if info.blake3_hex:
        digest = f"blake3 {info.blake3_hex}"
    elif info.chunks_blake3_hex and reused:
        digest = f"etag {info.etag}; sent {stats.sent_bytes} bytes, {stats.reused_bytes} already stored"
    elif info.chunks_blake3_hex:
        # Written straight to the holders (a direct put): no whole-object blake3, every chunk checked by its id.
        digest = f"etag {info.etag}"
    else:
        digest = f"etag {info.etag} ({info.etag.rsplit('-', 1)[-1]} parts)"
    click.echo(f"stored {info.bucket}/{info.key}: {info.size_bytes} bytes, {digest}, version {info.version}")


@click.command("get")
@click.argument("source", metavar="[BUCKET/KEY]")
@click.argument("local_path", metavar="LOCAL_PATH|-", required=False)
@click.option("--range", "byte_range", default=None, metavar="START-END",
              help="Only bytes START..END (inclusive); START- reads to the end.")
@click.option("--link", default=None, metavar="TOKEN",
              help="Read with a share link (nodectl share) instead of an access key; BUCKET/KEY is the link's.")
@click.option("--version", "version", default="", metavar="ID",
              help="Read this version (`nodectl versions` lists them) instead of the current one.")
@click.option("--key", "key_file", default=None, metavar="FILE",
              help="Decrypt an object encrypted in the client (put --encrypt) with this key (nodectl key init).")
@click.pass_obj
def get_command(settings: _Settings, source: str, local_path: str | None, byte_range: str | None,
                link: str | None, version: str, key_file: str | None) -> None:
    """Read BUCKET/KEY into LOCAL_PATH (a file or directory; - for stdout).

    The bytes go to a temporary file beside LOCAL_PATH, renamed into place only once complete.
    With --link TOKEN, no account is needed: `nodectl get --link TOKEN LOCAL_PATH`.
    """
    if local_path is None:
        if link is None:
            raise click.UsageError("Missing argument 'LOCAL_PATH|-'.")
        source, local_path = "", source
    bucket, key = split_bucket_key(source) if source else ("", "")
    start_bytes, length_bytes = (None, None) if byte_range is None else parse_range(byte_range)
    # A link is the call's credential: no access key is looked for (nor needed).
    with settings.client(unsigned=link is not None, encryption_key_file=key_file) as client, client.get(
            bucket, key, range_start_bytes=start_bytes, range_length_bytes=length_bytes, link=link,
            version=version) as reader:
        bucket, key = reader.info.bucket, reader.info.key
        progress = _progress(f"get {bucket}/{key}", reader.range_length_bytes)
        try:
            if local_path == "-":
                stdout = _binary(sys.stdout)
                reader.readinto_file(stdout, progress=progress.update)
                stdout.flush()
            else:
                destination = Path(local_path)
                if destination.is_dir():
                    destination = destination / key.rsplit("/", 1)[-1]
                write_atomically(destination, lambda f: reader.readinto_file(
                    f, progress=progress.update))
        finally:
            progress.finish()


@click.command("rm")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--version", "version", default="", metavar="ID",
              help="Delete this one version (or delete marker) for good instead.")
@click.pass_obj
def remove_command(settings: _Settings, target: str, version: str) -> None:
    """Delete BUCKET/KEY. In a versioned bucket this writes a delete marker and keeps the versions
    (`nodectl versions`, `nodectl rollback`); --version ID deletes that one version for good."""
    bucket, key = split_bucket_key(target)
    with settings.client() as client:
        done = client.delete(bucket, key, version=version)
    if done.permanent:
        click.echo(f"deleted version {done.version_id} of {bucket}/{key} for good")
    elif done.delete_marker:
        click.echo(f"deleted {bucket}/{key}: delete marker {done.version_id}; earlier versions are kept")
    else:
        click.echo(f"deleted {bucket}/{key}")


@click.command("versions")
@click.argument("target", metavar="BUCKET/KEY|BUCKET")
@click.option("--prefix", default="", metavar="P", help="With BUCKET alone: only keys starting with P.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def versions_command(settings: _Settings, target: str, prefix: str, as_json: bool) -> None:
    """List the versions and delete markers of BUCKET/KEY (or of every key in BUCKET), newest
    first: version id, size, ETag, when, and who wrote it. LATEST marks the current one."""
    bucket, key = split_bucket_key(target, key_required=False)
    if key and prefix:
        raise click.UsageError("give BUCKET/KEY, or BUCKET with --prefix, not both")
    with settings.client() as client:
        found = list(client.versions(bucket, key or None, prefix=prefix))
    if as_json:
        _print_json({"bucket": bucket, "versions": [info.to_dict() for info in found]})
        return
    if not found:
        raise NotFound(f"{bucket}/{key} has no versions" if key else f"no versions in {bucket}" +
                       (f" under {prefix!r}" if prefix else ""))
    rows = [[info.version_id, "LATEST" if info.is_latest else "",
             "delete marker" if info.delete_marker else str(info.size_bytes),
             "-" if info.delete_marker else info.etag, iso_utc(info.created_at_unix_ms), info.written_by or "-",
             *([] if key else [info.key])] for info in found]
    header = ["VERSION", "", "SIZE", "ETAG", "MODIFIED", "WRITER", *([] if key else ["KEY"])]
    click.echo("\n".join(format_table(header, rows)))


@click.command("rollback")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--to", "version", required=True, metavar="ID", help="The version to make current again.")
@click.pass_obj
def rollback_command(settings: _Settings, target: str, version: str) -> None:
    """Make version ID of BUCKET/KEY current again, as a new version sharing its chunks (no byte is
    copied; the versions after it are kept)."""
    bucket, key = split_bucket_key(target)
    with settings.client() as client:
        info = client.rollback(bucket, key, version)
    click.echo(f"{bucket}/{key} is version {version}'s bytes again: new version {info.version_id}, "
               f"{info.size_bytes} bytes")


@click.command("stat")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--version", "version", default="", metavar="ID", help="Describe this version instead of the current one.")
@click.pass_obj
def stat_command(settings: _Settings, target: str, as_json: bool, version: str) -> None:
    """Show BUCKET/KEY's size and bytes on disk, blake3, version, policy, and each chunk's
    holders (copy N, or share I data/parity under erasure coding)."""
    bucket, key = split_bucket_key(target)
    with settings.client() as client:
        stat = client.stat(bucket, key, version=version)
    if as_json:
        _print_json(stat.to_dict())
    else:
        click.echo("\n".join(format_stat(stat)))


@click.command("convert")
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--ec", default=None, metavar="K+M", help=EC_HELP)
@click.option("--replicas", type=click.IntRange(min=1), default=None, metavar="N",
              help="Whole copies of every chunk on N nodes.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
@click.pass_obj
def convert_command(settings: _Settings, target: str, ec: str | None, replicas: int | None,
                    as_json: bool) -> None:
    """Rewrite BUCKET/KEY under --ec K+M or --replicas N (exactly one).

    The old copies are released only once the new ones are durable; converting to the policy
    the object already has does nothing. Progress goes to stderr when it is a terminal.
    """
    replicas, shares = parse_policy_flags(replicas, ec, required=True)
    bucket, key = split_bucket_key(target)
    bars: list[Progress] = []  # made at the first progress message, which tells the size

    def on_progress(done: ConvertProgress) -> None:
        if not bars:
            bars.append(_progress(f"convert {bucket}/{key}", done.bytes_total))
        bars[0].update(done.bytes_done, detail=f"{done.chunks_done}/{done.chunks_total} chunks")

    with settings.client() as client:
        try:
            result = client.convert(bucket, key, replicas=replicas, ec=shares,
                                    progress=on_progress)
        finally:
            if bars:
                bars[0].finish()
    if as_json:
        _print_json(result.to_dict())
    else:
        click.echo(format_convert_result(bucket, key, result, policy_flags_text(replicas, shares)))
