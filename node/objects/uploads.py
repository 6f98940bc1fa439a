"""Multipart uploads: parts stored as objects of their own, the object stitched from their chunks.

An upload's records are manifests in a hidden bucket beside the user's, `<bucket>+uploads` (no
bucket can take that name: bucket names are a-z, 0-9 and '-'), in the same tenant:

- the upload record, key `<key>\\x01<upload id>`: the object-to-be's content type, metadata,
  headers and policy, inline and empty;
- one record per part, key `<key>\\x01<upload id>\\x01<part number, 5 digits>`: a manifest whose
  chunks are the part's (put exactly as an object is, never inline), with the part's MD5.

So a part is durable when acknowledged (the put's promise: every holder fsynced, the manifest on a
write quorum) and reachable from every node; metadata sync, refill after a replaced disk, fsck and
tombstone purging treat the records as any manifests; and the parts' copies carry references to
the part records, so garbage collection keeps them exactly while an upload is unfinished. Upload
ids start with the creation time (hex milliseconds), so a key's uploads list oldest first.

Completing writes the object's manifest with a new version, whose chunks are the listed parts'
chunks with their offsets shifted, after recording that version as a reference on every copy of
every chunk (`AddReferences`, read from each chunk's placement record): no byte is copied. A copy
whose holder does not answer or no longer has it is stored again under the new version from a
verified read of the chunk (the put path, with its handoffs), so completion never depends on every
holder being up. Then the upload's records are deleted (tombstones); their references on the
copies are released by garbage collection after its grace, and the object's keep the copies.

A multipart object has no whole-object blake3 (computing it would mean reading every byte): its
manifest's blake3 is empty, and readers rely on each chunk's own check, which every read makes.
Its ETag is S3's: the MD5 of the parts' MD5s, then `-` and the number of parts.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator, Sequence

from node import errors
from node.objects import validate
from node.objects.conditions import Condition
from ringstore.etag import parts_md5
from ringstore.v1 import common_pb2

log = logging.getLogger("ringstore.uploads")

UPLOADS_SUFFIX = "+uploads"
SEPARATOR = "\x01"
PART_NUMBER_MAX = 10_000
# Every part but the last is at least this large (S3's minimum).
PART_BYTES_MIN = 5 * 1024 * 1024
# Most parts one listing reads per round.
LIST_ROUND = 1000
_UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_PART_RE = re.compile(r"^[0-9]{5}$")


def uploads_bucket(bucket: str) -> str:
    return bucket + UPLOADS_SUFFIX


def upload_key(key: str, upload_id: str) -> str:
    return f"{key}{SEPARATOR}{upload_id}"


def part_key(key: str, upload_id: str, number: int) -> str:
    return f"{key}{SEPARATOR}{upload_id}{SEPARATOR}{number:05d}"


def parse_record_key(record_key: str) -> tuple[str, str, int | None] | None:
    """(key, upload id, part number or None for the upload record) of a record key; None for
    anything else."""
    head, _, last = record_key.rpartition(SEPARATOR)
    if _PART_RE.match(last):
        key, _, upload_id = head.rpartition(SEPARATOR)
        return (key, upload_id, int(last)) if _UPLOAD_ID_RE.match(upload_id) and key else None
    return (head, last, None) if _UPLOAD_ID_RE.match(last) and head else None


def check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID_RE.match(upload_id):
        raise errors.NoSuchUpload(f"upload id {upload_id[:40]!r} is not one this cluster issued; "
                                  "list the bucket's uploads to find it")


def check_part_number(number: int) -> None:
    if not 1 <= number <= PART_NUMBER_MAX:
        raise errors.InvalidArgument(f"part number {number} is outside 1..{PART_NUMBER_MAX}")


class Uploads:
    """Multipart uploads of one coordinator's tenant (node/objects/coordinator.py)."""

    def __init__(self, coordinator, *, wall_ms: Callable[[], int]) -> None:
        self._c = coordinator
        self._wall_ms = wall_ms

    # -- records --------------------------------------------------------------------------------

    def create(self, bucket: str, key: str, *, content_type: str, metadata: dict[str, str],
               headers: dict[str, str], policy: common_pb2.RedundancyPolicy | None,
               tags: dict[str, str] | None = None, encryption: int = 0) -> str:
        """Start an upload; returns its id. The bucket must exist (and the caller may put). `tags`
        go on the object when it completes (kept in the upload's record meanwhile)."""
        record = self._c.bucket(bucket)
        self._c.validate_put(key, content_type, metadata, headers)
        validate.tags(tags or {})
        upload_id = f"{self._wall_ms():013x}{secrets.token_hex(10)[:19]}"
        manifest = self._c.new_manifest(uploads_bucket(bucket), upload_key(key, upload_id), content_type=content_type,
                                        policy=self._c.checked_policy(policy, default=record.default_policy))
        manifest.metadata.update(metadata)
        manifest.headers.update(headers)
        manifest.upload_encryption = encryption
        if tags:
            manifest.tagging.tags.update(tags)
            manifest.tagging.changed.CopyFrom(manifest.version)
        manifest.inline = True
        self._c.write_manifest(manifest)
        return upload_id

    def record(self, bucket: str, key: str, upload_id: str) -> common_pb2.Manifest:
        """The upload record, or NoSuchUpload."""
        check_upload_id(upload_id)
        self._c.bucket(bucket)
        found = self._c.read_manifest(uploads_bucket(bucket), upload_key(key, upload_id))
        if found is None or found.tombstone:
            raise errors.NoSuchUpload(f"upload {upload_id} of {bucket}/{key} does not exist: it was completed or "
                                      "aborted, or never made; start a new one")
        return found

    def part_location(self, bucket: str, key: str, upload_id: str, number: int
                      ) -> tuple[common_pb2.Manifest, tuple[str, str]]:
        """(upload record, (bucket, key) the part's manifest is written at) for an upload of part
        `number`; NoSuchUpload when the upload is gone."""
        check_part_number(number)
        record = self.record(bucket, key, upload_id)
        return record, (uploads_bucket(bucket), part_key(key, upload_id, number))

    def parts(self, bucket: str, key: str, upload_id: str, *, after: int = 0,
              limit: int = PART_NUMBER_MAX) -> tuple[list[tuple[int, common_pb2.Manifest]], bool]:
        """The upload's parts above number `after`, at most `limit`, and whether more follow."""
        prefix = upload_key(key, upload_id) + SEPARATOR
        found: list[tuple[int, common_pb2.Manifest]] = []
        for manifest in self._records(bucket, prefix, part_key(key, upload_id, after) if after else ""):
            parsed = parse_record_key(manifest.key)
            if parsed is None or parsed[2] is None:
                continue
            if len(found) == limit:
                return found, True
            found.append((parsed[2], manifest))
        return found, False

    def list(self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, limit: int
             ) -> tuple[list[tuple[str, str, common_pb2.Manifest]], bool]:
        """Unfinished uploads (key, upload id, record) in key and creation order, after the markers."""
        self._c.bucket(bucket)
        cursor = upload_key(key_marker, upload_id_marker) if key_marker and upload_id_marker else (
            key_marker + SEPARATOR + "\U0010ffff" if key_marker else "")
        found: list[tuple[str, str, common_pb2.Manifest]] = []
        for manifest in self._records(bucket, prefix, cursor):
            parsed = parse_record_key(manifest.key)
            if parsed is None or parsed[2] is not None:
                continue
            if len(found) == limit:
                return found, True
            found.append((parsed[0], parsed[1], manifest))
        return found, False

    def _records(self, bucket: str, prefix: str, start_after: str) -> Iterator[common_pb2.Manifest]:
        """The bucket's upload and part records under `prefix` after `start_after`, in key order, a
        page at a time."""
        cursor = start_after
        while True:
            page, _ = self._c.list_page(uploads_bucket(bucket), prefix=prefix, start_after=cursor, page_size=LIST_ROUND)
            yield from page
            if len(page) < LIST_ROUND:
                return
            cursor = page[-1].key

    def usage(self, bucket: str) -> common_pb2.UsageRecord:
        """The usage counters of the bucket's upload records: `logical_bytes` and `chunk_bytes` are
        its unfinished uploads' parts'."""
        return self._c.bucket_usage(uploads_bucket(bucket))[0]

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        """Delete the upload's records; garbage collection frees its parts' copies after its grace."""
        self.record(bucket, key, upload_id)
        self._drop(bucket, key, upload_id)

    def drop_all(self, bucket: str) -> int:
        """Delete every upload record and part record of a bucket (it was just removed: S3 drops a
        deleted bucket's unfinished uploads with it); returns how many records."""
        dropped = 0
        for manifest in self._records(bucket, "", ""):
            self._c.write_tombstone(manifest)
            dropped += 1
        return dropped

    def collect(self, store, is_first_home: Callable[[str, str], bool], now_ms: int, max_age_ms: int) -> int:
        """Abort the uploads older than `max_age_ms` whose records this node holds and whose
        partition it is the first live home of (so one node does each), and delete parts as old
        whose upload is gone (a part that finished storing after its upload was aborted, or its
        bucket removed); returns how many uploads and stray parts."""
        aborted = 0
        for tenant, hidden in store.manifest_partitions():
            if tenant != self._c.tenant or not hidden.endswith(UPLOADS_SUFFIX) or not is_first_home(tenant, hidden):
                continue
            bucket = hidden[:-len(UPLOADS_SUFFIX)]
            for manifest in list(store.iter_manifests(tenant, hidden)):
                parsed = parse_record_key(manifest.key)
                if manifest.tombstone or parsed is None or now_ms - manifest.created_at_unix_ms < max_age_ms:
                    continue
                key, upload_id, number = parsed
                try:
                    if number is not None:
                        upload = self._c.read_manifest(hidden, upload_key(key, upload_id))
                        if upload is None or upload.tombstone:
                            self._c.write_tombstone(manifest)
                            aborted += 1
                            log.info("deleted part %d of upload %s of %s/%s: its upload is gone", number,
                                     upload_id, bucket, key)
                        continue
                    self._drop(bucket, key, upload_id)
                    aborted += 1
                    log.info("aborted upload %s of %s/%s: unfinished after %.1f days", upload_id, bucket, key,
                             (now_ms - manifest.created_at_unix_ms) / 86_400_000)
                except errors.RingstoreError as err:
                    log.warning("could not abort old upload %s of %s/%s: %s", upload_id, bucket, key, err)
        return aborted

    def _drop(self, bucket: str, key: str, upload_id: str) -> None:
        parts, _ = self.parts(bucket, key, upload_id)
        for _, part in parts:
            self._c.write_tombstone(part)
        self._c.write_tombstone(self._c.read_manifest(uploads_bucket(bucket), upload_key(key, upload_id)))

    # -- completion -----------------------------------------------------------------------------

    def complete(self, bucket: str, key: str, upload_id: str, listed: Sequence[tuple[int, str]],
                 condition: Condition | None = None) -> common_pb2.Manifest:
        """Make the object from the listed (part number, ETag) pairs, with the tags the upload was
        created with; returns its manifest. With a `condition` it is committed as a conditional put
        is (node/objects/conditions.py): FAILED_PRECONDITION when the key's current version does not
        meet it, and then the upload stays, to complete again or abort."""
        record = self.record(bucket, key, upload_id)
        if not listed:
            raise errors.InvalidArgument("CompleteMultipartUpload names no parts: list at least one")
        numbers = [number for number, _ in listed]
        if any(b <= a for a, b in zip(numbers, numbers[1:])):
            raise errors.InvalidPartOrder("the parts of a CompleteMultipartUpload must be listed in ascending "
                                          f"part-number order, each once (got {numbers[:10]}...)")
        stored = dict(self.parts(bucket, key, upload_id)[0])
        manifest = self._c.new_manifest(bucket, key, content_type=record.content_type, policy=record.policy)
        self._c.assign_version(self._c.bucket(bucket), manifest)
        manifest.metadata.update(dict(record.metadata))
        manifest.headers.update(dict(record.headers))
        if record.tagging.tags:
            manifest.tagging.tags.update(dict(record.tagging.tags))
            manifest.tagging.changed.CopyFrom(manifest.version)
        md5s: list[bytes] = []
        offset = 0
        for index, (number, etag) in enumerate(listed):
            part = stored.get(number)
            wanted = etag.strip().strip('"').lower()
            if part is None or part.md5.hex() != wanted:
                raise errors.InvalidPart(
                    f"part {number} of upload {upload_id} " + ("was not uploaded" if part is None else
                                                               f"has ETag \"{part.md5.hex()}\", not \"{wanted}\"")
                    + ": upload it again or list the parts you did upload (ListParts)")
            if index < len(listed) - 1 and part.size_bytes < PART_BYTES_MIN:
                raise errors.EntityTooSmall(f"part {number} is {part.size_bytes} bytes; every part but the last "
                                            f"must be at least {PART_BYTES_MIN} bytes (5 MiB)")
            for chunk in part.chunks:
                moved = manifest.chunks.add()
                moved.CopyFrom(chunk)
                moved.offset_bytes = offset + chunk.offset_bytes
            offset += part.size_bytes
            md5s.append(part.md5)
            manifest.part_sizes_bytes.append(part.size_bytes)
        manifest.size_bytes = offset
        manifest.md5 = parts_md5(md5s)
        manifest.part_count = len(listed)
        self._c.check_size(offset)
        self._c.reference_chunks(manifest)
        manifest.created_at_unix_ms = self._wall_ms()
        if condition:
            self._c.write_manifest_if(manifest, condition)
        else:
            self._c.write_manifest(manifest)
        self._drop(bucket, key, upload_id)
        return manifest

