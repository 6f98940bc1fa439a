"""Resumable puts of large files: a multipart upload (node/objects/uploads.py) whose progress is kept
in a small state file, so `nodectl put --resume` continues an interrupted put where it stopped,
through any node, after the client or the node it used died.

The state file (`<state dir>/<sha256 of bucket, key and the file's absolute path>.json`, mode 0600)
holds the upload id, the part size and the file's size and modification time. A resume refuses a
file that changed since (its parts on the cluster would not be its bytes), asks the cluster which
parts arrived (`ListUploadParts`), re-reads each of those parts locally and keeps it only when its
MD5 matches (a part the node stored but whose answer was lost, or one from a file rewritten with
the same size and time, is checked, not trusted), sends the rest and completes. The file is removed
once the object is stored. Parts are PART_BYTES (16 MiB: four chunks each, so the object's chunks
are full-size); a file of at most THRESHOLD_BYTES is put in one stream as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodectl.client import encryption
from nodectl.errors import FailedPrecondition, InvalidArgument, NotFound

PART_BYTES = 16 * 1024 * 1024
THRESHOLD_BYTES = 64 * 1024 * 1024
STATE_FORMAT = 1


@dataclasses.dataclass
class UploadState:
    bucket: str
    key: str
    path: str
    size_bytes: int
    mtime_ns: int
    part_bytes: int
    upload_id: str
    format: int = STATE_FORMAT
    # The id of the key the parts are encrypted under (nodectl/client/encryption.py); "" for none.
    key_id: str = ""


def default_state_dir(env: dict[str, str] | os._Environ = os.environ) -> Path:
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ringstore" / "uploads"


def state_path(state_dir: Path, bucket: str, key: str, path: Path) -> Path:
    name = hashlib.sha256(f"{bucket}\0{key}\0{path.resolve()}".encode()).hexdigest()[:32]
    return state_dir / f"{name}.json"


def load_state(where: Path) -> UploadState | None:
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
        return UploadState(**raw) if raw.get("format") == STATE_FORMAT else None
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as err:
        raise InvalidArgument(f"{where} is not an upload state this nodectl wrote ({err}); remove it and put "
                              "again") from None


def save_state(where: Path, state: UploadState) -> None:
    where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = where.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(dataclasses.asdict(state), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, where)


def put_resumable(client: Any, bucket: str, key: str, path: Path, *, state_dir: Path, resume: bool,
                  replicas: int | None = None, ec: Any = None, content_type: str = "",
                  progress: Callable[[int], None] | None = None, part_bytes: int = PART_BYTES,
                  tags: dict[str, str] | None = None, if_match: str = "", if_version: str = "",
                  if_absent: bool = False, encryption_key: encryption.EncryptionKey | None = None,
                  compression: str | None = None):
    """Store the file at `path` as bucket/key through a multipart upload, continuing the one an
    earlier call left in `state_dir` when `resume`; returns the object's ObjectInfo. `tags` go on
    the object (given when the upload starts); a condition (`if_match`, `if_version`, `if_absent`,
    as `put` takes them) is checked before any part is sent, to fail early, and again when the
    upload completes, where it decides. With `encryption_key` the parts are the file's ciphertext
    (encryption.py), each part whole blocks: part_bytes must be a multiple of the block."""
    if encryption_key is not None and part_bytes % encryption.BLOCK_CIPHER_BYTES:
        raise InvalidArgument(f"an encrypted put goes in parts of whole {encryption.BLOCK_CIPHER_BYTES}-byte blocks, "
                              f"not {part_bytes}")
    if if_match or if_version or if_absent:
        _precheck(client, bucket, key, if_match, if_version, if_absent)
    stat = path.stat()
    key_id = encryption_key.key_id if encryption_key is not None else ""
    where = state_path(state_dir, bucket, key, path)
    state = load_state(where)
    arrived: dict[int, Any] = {}
    if resume:
        if state is None:
            raise InvalidArgument(f"there is no interrupted put of {path} to {bucket}/{key} to resume (no state "
                                  f"in {state_dir}); put it without --resume")
        if (state.size_bytes, state.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            raise FailedPrecondition(f"{path} changed since its put was interrupted (size or modification time); "
                                     "put it again without --resume")
        if state.key_id != key_id:
            raise FailedPrecondition(f"the interrupted put of {path} was {'encrypted under key ' + state.key_id if state.key_id else 'not encrypted'}: "
                                     "resume it as it began, or put it again without --resume")
        try:
            arrived = {part.part_number: part for part in client.list_upload_parts(bucket, key, state.upload_id)}
        except NotFound:
            where.unlink(missing_ok=True)
            raise FailedPrecondition(f"the interrupted upload of {bucket}/{key} is gone from the cluster "
                                     "(completed, aborted, or older than repair.upload_max_age_s); put it again "
                                     "without --resume") from None
    else:
        if state is not None:
            try:
                client.abort_upload(bucket, key, state.upload_id)  # an earlier interrupted put starts over
            except NotFound:
                pass
        metadata = {} if encryption_key is None else {
            encryption.META_SCHEME: encryption.SCHEME, encryption.META_KEY_ID: key_id,
            encryption.META_PLAIN_BYTES: str(stat.st_size)}
        upload_id = client.create_upload(bucket, key, replicas=replicas, ec=ec, content_type=content_type, tags=tags,
                                         metadata=metadata)
        state = UploadState(bucket=bucket, key=key, path=str(path.resolve()), size_bytes=stat.st_size,
                            mtime_ns=stat.st_mtime_ns, part_bytes=part_bytes, upload_id=upload_id, key_id=key_id)
        save_state(where, state)
    sent_bytes = state.size_bytes if encryption_key is None else encryption.cipher_size(state.size_bytes)
    count = max(1, -(-sent_bytes // state.part_bytes))
    done_bytes = 0
    parts = []
    with open(path, "rb") as raw:
        source: Any = raw if encryption_key is None else encryption.EncryptingFile(raw, state.size_bytes,
                                                                                  encryption_key)
        for number in range(1, count + 1):
            source.seek((number - 1) * state.part_bytes)
            data = source.read(state.part_bytes)
            known = arrived.get(number)
            if known is not None and known.size_bytes == len(data) and known.md5_hex == hashlib.md5(
                    data, usedforsecurity=False).hexdigest():
                parts.append(known)
            else:
                base = done_bytes
                parts.append(client.upload_part(bucket, key, state.upload_id, number, data, compression=compression,
                                                progress=None if progress is None else
                                                (lambda sent, base=base: progress(base + sent))))
            done_bytes += len(data)
            if progress is not None:
                progress(done_bytes)
    info = client.complete_upload(bucket, key, state.upload_id, parts, if_match=if_match, if_version=if_version,
                                  if_absent=if_absent)
    where.unlink(missing_ok=True)
    return info


def _precheck(client: Any, bucket: str, key: str, if_match: str, if_version: str, if_absent: bool) -> None:
    """FailedPrecondition now, before gigabytes are sent, when the key's current version already
    fails the condition; the completion checks again (and decides)."""
    try:
        info = client.stat(bucket, key).info
    except NotFound:
        if if_match or if_version:
            raise FailedPrecondition(f"{bucket}/{key} does not exist, so it cannot match the condition; "
                                     "nothing was sent") from None
        return
    if if_absent:
        raise FailedPrecondition(f"{bucket}/{key} exists (version {info.version_id}); nothing was sent "
                                 "(drop --if-absent to replace it)")
    if if_match and if_match.strip('"') not in ("*", info.etag):
        raise FailedPrecondition(f"{bucket}/{key} has ETag {info.etag}, not {if_match}; nothing was sent")
    if if_version and if_version not in (info.version_id, info.version):
        raise FailedPrecondition(f"{bucket}/{key} is at version {info.version_id or info.version}, not "
                                 f"{if_version}; nothing was sent")
