"""Object calls of `Client`: put, get, stat, convert, list and delete.

- A put streams its header, its source's frames (put_source.py) and an end message with the size
  and blake3 of what was sent; the node stores only a stream that ends so and matches. It is
  retried after UNAVAILABLE only when its source can be replayed. An object of known size up to
  SMALL_PUT_BYTES_MAX goes as one PutSmallObject message with the same three parts instead: gRPC
  Python starts a thread to drain every client stream, which was a third of a small put's CPU on
  the client. A node that does not know PutSmallObject (an older release, mid-upgrade) answers
  UNIMPLEMENTED, and this client streams from then on.
- A get answers with an `ObjectReader` (reader.py) once the object's info arrived, so a missing
  object or a bad range raises at once.
- `convert` rewrites an object under another policy. The node streams progress, then the result;
  the call is idempotent on the node (converting to the policy the object already has answers
  `unchanged`), so it is retried after UNAVAILABLE like a unary call, from the start. Its deadline
  cannot be set up front (the size is learnt from the first progress message), so a watchdog
  allows timeout_s for the first message, then the larger of "timeout_s since the last progress
  that moved forward" and `convert_deadline_s` of the object's size, counted from the start.
- A listing is fetched a page at a time as the caller iterates, at most LIST_PAGES_MAX pages.
- `get`, `get_bytes` and `stat` take `link=TOKEN` (a share link) instead of a key: the call carries
  the token in its metadata, unsigned, and bucket and key default to the ones the token names.
"""

from __future__ import annotations


import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

import blake3
import grpc
from ringstore import frames
from ringstore.auth import links
from ringstore.etag import etag, parts_md5
from ringstore.v1 import common_pb2, object_pb2

from nodectl.client import direct_put, encryption, reuse
from nodectl.client.connection import _Connection
from nodectl.client.deadlines import (
    _Watchdog,
    convert_deadline_s,
    expansion_ratio,
    rpc_error,
    stream_deadline_s,
)
from nodectl.client.from_pb import (
    convert_progress_from_pb,
    convert_result_from_pb,
    object_info_from_pb,
    object_stat_from_pb,
)
from nodectl.client.limits import CONVERT_MESSAGES_MAX, GRPC_MESSAGE_BYTES_MAX, LIST_PAGE_SIZE_MAX, LIST_PAGES_MAX
from nodectl.client.put_source import _PutSource
from nodectl.client.reader import ObjectReader
from nodectl.client.results import (ConvertProgress, ConvertResult, Deleted, ListPage, ObjectChange, ObjectInfo,
                                    ObjectStat, UploadedPart, WatchEvent)
from nodectl.client.validate import (
    compression_pb,
    policy_pb,
    validate_bucket,
    validate_key,
    validate_prefix,
    validate_put_fields,
    validate_range,
    validate_version,
)
from nodectl.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    OutOfRange,
    PermissionDenied,
    RingstoreError,
    Unavailable,
    from_rpc_error,
)


class _ObjectCalls(_Connection):
    """Objects: put, get, stat, convert, list, delete."""

    def put(self, bucket: str, key: str,
            data: bytes | bytearray | memoryview | BinaryIO | os.PathLike[str], *,
            replicas: int | None = None, ec: str | tuple[int, int] | None = None,
            content_type: str = "", metadata: Mapping[str, str] | None = None,
            progress: Callable[[int], None] | None = None, if_match: str = "", if_version: str = "",
            if_absent: bool = False, expires_in_s: float = 0, tags: Mapping[str, str] | None = None,
            encrypt: bool | None = None, reuse_chunks: bool = False,
            stats: reuse.TransferStats | None = None, compression: str | None = None) -> ObjectInfo:
        """Store `data` (bytes, a binary file read from its current position, or a path).

        `replicas` or `ec` ("K+M" or (K, M)), at most one, override the bucket's default policy.
        Streams FRAME_SIZE_BYTES frames and calls `progress(bytes_sent_so_far)` after each (from
        gRPC's sending thread). A file that cannot seek (a pipe) is read from that thread too: give
        an unbuffered one (`open(fd, "rb", buffering=0)`) if the process may exit while the read
        waits, since a buffered reader's lock held there aborts the interpreter at shutdown. Returns once the object is durable. The size is sent when known,
        so the node rejects a file that changes length mid-put.

        A conditional put (at most one of `if_match` an ETag, `if_version` a version id or stamp,
        `if_absent`) lands only if the key's current version is so, and no other write of the key
        ran meanwhile; else FailedPrecondition and nothing is stored. Of conditional puts racing for
        one key, exactly one wins. A retry after a lost answer may report FailedPrecondition for a
        put that did land (the first attempt changed the key): `stat` tells. `expires_in_s`: the
        object is deleted that long after it is stored (reads stop finding it then). `tags`: the
        version's tags (at most 10). `encrypt` (default: when the client has an encryption key):
        encrypt the bytes here, under the client's key, before they leave (encryption.py); the
        object's size is then the ciphertext's, its metadata says which key.

        An object of known size larger than one chunk, stored replicated, is written straight to the
        nodes that hold its copies when the node offers it (direct_put.py; a client made with
        `direct_reads=False` streams everything through its node): it then has no whole-object blake3.

        `reuse_chunks` (a path): send only the chunks the bucket does not already store (reuse.py;
        encrypted, its blocks as encrypted); the object then has no whole-object blake3. `stats` adds up the bytes
        sent and the bytes named as already stored. `compression` "zstd" or "none" (default: the
        bucket's setting): store each chunk zstd-compressed where that saves enough; an object
        small enough to live in its manifest is refused "zstd".
        """
        validate_bucket(bucket)
        validate_key(key)
        policy = policy_pb(replicas, ec)
        codec = compression_pb(compression)
        metadata = dict(metadata or {})
        validate_put_fields(content_type, metadata)
        if encrypt is None:
            encrypt = self.encryption_key is not None
        if encrypt and reuse_chunks and isinstance(data, os.PathLike):
            reused = self.put_reusing(bucket, key, data, replicas=replicas, ec=ec, content_type=content_type,
                                      metadata=metadata, progress=progress, if_match=if_match, if_version=if_version,
                                      if_absent=if_absent, tags=tags, stats=stats, compression=compression,
                                      encrypt=True) if not expires_in_s else None
            if reused is not None:
                return reused
        with contextlib.ExitStack() as cleanup:
            if encrypt:
                data = self._encrypting(data, metadata, cleanup)
                validate_put_fields(content_type, metadata)
            return self._put(bucket, key, data, policy=policy, content_type=content_type, metadata=metadata,
                             progress=progress, if_match=if_match, if_version=if_version, if_absent=if_absent,
                             expires_in_s=expires_in_s, tags=tags,
                             reuse_chunks=reuse_chunks and not encrypt and isinstance(data, os.PathLike),
                             stats=stats, compression=codec)

    def has_chunks(self, bucket: str, chunk_ids: list[bytes], *, replicas: int | None = None,
                   ec: str | tuple[int, int] | None = None, key: str = "") -> list[bool]:
        """Per chunk id (blake3 of one chunk_size_bytes piece of an object), whether `bucket`
        already stores it under the policy a put would use, so a put may name it instead of
        sending it (at most reuse.HAS_CHUNKS_IDS_MAX ids per call). With `key` (the key the put
        writes), a chunk of its current version counts too, however it is stored (compressed)."""
        validate_bucket(bucket)
        if key:
            validate_key(key)
        if len(chunk_ids) > reuse.HAS_CHUNKS_IDS_MAX:
            raise InvalidArgument(f"{len(chunk_ids)} chunk ids; at most {reuse.HAS_CHUNKS_IDS_MAX} per call")
        return self._has_chunks(bucket, chunk_ids, policy_pb(replicas, ec), key)

    def _has_chunks(self, bucket: str, chunk_ids: list[bytes], policy: common_pb2.RedundancyPolicy | None,
                    key: str = "") -> list[bool]:
        request = object_pb2.HasChunksRequest(bucket=bucket, chunk_ids=chunk_ids, policy=policy, key=key)
        response = self._unary(self._objects.HasChunks, request)
        self._chunk_size_bytes = response.chunk_size_bytes
        return list(response.held)

    def chunk_size_bytes(self, bucket: str) -> int:
        """The size the cluster cuts objects into (asked once per client)."""
        if not getattr(self, "_chunk_size_bytes", 0):
            self._has_chunks(bucket, [], None)
        return self._chunk_size_bytes

    def _encrypting(self, data, metadata: dict[str, str], cleanup: contextlib.ExitStack
                    ) -> encryption.EncryptingFile:
        """`data` as the ciphertext a put sends, and `metadata` naming the scheme and key."""
        if self.encryption_key is None:
            raise InvalidArgument("an encrypted put needs a key: give --key FILE (or Client(encryption_key=...))")
        size = _PutSource(data).size_bytes
        if size is None:
            raise InvalidArgument("an encrypted put reads bytes or a file it can seek, not a pipe: save it to a "
                                  "file first")
        if isinstance(data, (bytes, bytearray, memoryview)):
            source: BinaryIO = io.BytesIO(data)
        elif isinstance(data, os.PathLike):
            source = cleanup.enter_context(open(data, "rb"))
        else:
            source = data
        metadata.update({encryption.META_SCHEME: encryption.SCHEME,
                         encryption.META_KEY_ID: self.encryption_key.key_id,
                         encryption.META_PLAIN_BYTES: str(size)})
        return encryption.EncryptingFile(source, size, self.encryption_key)

    def put_reusing(self, bucket: str, key: str, path: os.PathLike[str], *, replicas: int | None = None,
                    ec: str | tuple[int, int] | None = None, content_type: str = "",
                    metadata: Mapping[str, str] | None = None, progress: Callable[[int], None] | None = None,
                    if_match: str = "", if_version: str = "", if_absent: bool = False,
                    tags: Mapping[str, str] | None = None, stats: reuse.TransferStats | None = None,
                    compression: str | None = None, encrypt: bool = False) -> ObjectInfo | None:
        """Store the file at `path` sending only the chunks `bucket` does not already store
        (reuse.py), as `put` takes its arguments; None, having sent nothing, when the file is at
        most one chunk or none of its first chunks is stored (put it as usual then). `encrypt`:
        encrypted in this client under its key, the blocks already stored under that key named."""
        validate_bucket(bucket)
        validate_key(key)
        metadata = dict(metadata or {})
        if encrypt:
            if self.encryption_key is None:
                raise InvalidArgument("an encrypted put needs a key: give --key FILE (or Client(encryption_key=...))")
            metadata.update({encryption.META_SCHEME: encryption.SCHEME,
                             encryption.META_KEY_ID: self.encryption_key.key_id,
                             encryption.META_PLAIN_BYTES: str(os.stat(path).st_size)})
        validate_put_fields(content_type, metadata)
        header = _put_header(bucket, key, policy=policy_pb(replicas, ec), content_type=content_type,
                             metadata=metadata, if_match=if_match, if_version=if_version, if_absent=if_absent,
                             expires_in_s=0, tags=tags)
        header.compression = compression_pb(compression)
        return self._put_reusing(header, path, progress, stats, key=self.encryption_key if encrypt else None)

    def put_planned(self, bucket: str, key: str, planned: reuse.Plan, *, content_type: str = "",
                    metadata: Mapping[str, str] | None = None, progress: Callable[[int], None] | None = None,
                    if_version: str = "", if_absent: bool = False, stats: reuse.TransferStats | None = None
                    ) -> ObjectInfo:
        """Store a file already cut and asked about (reuse.plan or reuse.Plan.of): its held chunks
        named, the others sent. Raises reuse.FileChanged, having stored nothing, when the file is no
        longer what was hashed; FailedPrecondition when a named chunk is gone (or the condition
        failed)."""
        validate_bucket(bucket)
        validate_key(key)
        metadata = dict(metadata or {})
        validate_put_fields(content_type, metadata)
        header = _put_header(bucket, key, policy=None, content_type=content_type, metadata=metadata, if_match="",
                             if_version=if_version, if_absent=if_absent, expires_in_s=0, tags=None)
        return self._put_planned(header, planned, progress, stats)

    def _put_planned(self, header: object_pb2.PutObjectHeader, planned: reuse.Plan,
                     progress: Callable[[int], None] | None, stats: reuse.TransferStats | None) -> ObjectInfo:
        header.size_bytes = planned.size_bytes
        if planned.key is not None:  # the plaintext's size as this plan read it
            header.metadata[encryption.META_PLAIN_BYTES] = str(planned.signature[0])
        this = reuse.TransferStats(objects=1)
        response = self._retrying(lambda: self._put_once(header, None, progress, body=lambda: planned.body(this)))
        if stats is not None:
            stats.add(this)
        return object_info_from_pb(response.object)

    def _put(self, bucket: str, key: str, data, *, policy, content_type: str, metadata: dict[str, str],
             progress, if_match: str, if_version: str, if_absent: bool, expires_in_s: float,
             tags: Mapping[str, str] | None, reuse_chunks: bool = False,
             stats: reuse.TransferStats | None = None, compression: int = 0) -> ObjectInfo:
        source = _PutSource(data)
        header = _put_header(bucket, key, policy=policy, content_type=content_type, metadata=metadata,
                             if_match=if_match, if_version=if_version, if_absent=if_absent,
                             expires_in_s=expires_in_s, tags=tags)
        header.compression = compression
        if source.size_bytes is not None:
            header.size_bytes = source.size_bytes
        small = source.size_bytes is not None and source.size_bytes <= frames.SMALL_PUT_BYTES_MAX
        if reuse_chunks and not small:
            reused = self._put_reusing(header, data, progress, stats)
            if reused is not None:
                return reused

        def attempt() -> object_pb2.PutObjectResponse:
            if small and self._small_puts:
                return self._put_small_once(header, source, progress)
            if (self._direct_puts and self._direct is not None and source.size_bytes is not None
                    and source.size_bytes > direct_put.DIRECT_PUT_BYTES_MIN):
                response = self._put_direct_once(header, source, progress)
                if response is not None:
                    return response
            return self._put_once(header, source, progress)

        response = self._retrying(attempt, replayable=source.replayable)
        if stats is not None:
            stats.add(reuse.TransferStats(sent_bytes=response.object.size_bytes, objects=1))
        return object_info_from_pb(response.object)

    def _put_reusing(self, header: object_pb2.PutObjectHeader, path: os.PathLike[str],
                     progress: Callable[[int], None] | None, stats: reuse.TransferStats | None,
                     key: encryption.EncryptionKey | None = None) -> ObjectInfo | None:
        """A put that names the chunks the bucket already stores (reuse.py); None when none of them
        is (or this key may not ask): the caller puts as usual."""
        policy = header.policy if header.HasField("policy") else None
        where = f"put {header.bucket}/{header.key}"
        refused = False
        for _ in range(reuse.FILE_CHANGE_RETRIES + 1):
            try:
                chunk_size = self.chunk_size_bytes(header.bucket)
                planned = reuse.plan(path, chunk_size,
                                     lambda ids: self._has_chunks(header.bucket, ids, policy, header.key), key=key)
            except PermissionDenied:
                return None  # a key limited to a prefix may not ask about the whole bucket
            except RingstoreError as err:
                if err.code == grpc.StatusCode.UNIMPLEMENTED:
                    return None  # a node from before HasChunks
                raise
            except reuse.FileChanged:
                continue
            if planned is None:
                return None
            try:
                return self._put_planned(header, planned, progress, stats)
            except reuse.FileChanged:
                continue
            except FailedPrecondition:
                if refused or header.if_match or header.if_version or header.if_absent:
                    raise
                refused = True  # a named chunk was collected since HasChunks: ask again, once
                continue
        raise FailedPrecondition(f"{where}: {os.fspath(path)} kept changing while it was read "
                                 f"({reuse.FILE_CHANGE_RETRIES + 1} tries); nothing was stored: put it again once it "
                                 "is still")

    def _put_small_once(self, header: object_pb2.PutObjectHeader, source: _PutSource,
                        progress: Callable[[int], None] | None) -> object_pb2.PutObjectResponse:
        """One PutSmallObject call: the whole object in one message; `progress` once, when it is stored."""
        data = b"".join(source.frames())
        request = object_pb2.PutSmallObjectRequest(
            header=header, data=data,
            end=object_pb2.PutObjectEnd(size_bytes=len(data), blake3=blake3.blake3(data).digest()))
        timeout_s = stream_deadline_s(self._timeout_s, len(data))
        try:
            response = self._objects.PutSmallObject(request, timeout=timeout_s)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                self._small_puts = False  # a node from before PutSmallObject: stream from now on
                return self._put_once(header, source, progress)
            raise rpc_error(err, f"put {header.bucket}/{header.key}", timeout_s) from err
        if progress is not None:
            progress(len(data))
        return response

    def _put_direct_once(self, header: object_pb2.PutObjectHeader, source: _PutSource,
                         progress: Callable[[int], None] | None) -> object_pb2.PutObjectResponse | None:
        """One direct put (direct_put.py): None when the node answers that this object streams."""
        try:
            plan = self._objects.PlanPut(object_pb2.PlanPutRequest(header=header), timeout=self._timeout_s)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                self._direct_puts = False  # a node from before direct puts: stream from now on
                return None
            raise self.diagnosed(rpc_error(err, f"put {header.bucket}/{header.key}", self._timeout_s)) from err
        if not plan.direct or plan.chunk_size_bytes + direct_put.WRITE_HEADER_ROOM_BYTES > GRPC_MESSAGE_BYTES_MAX:
            return None  # streamed (the node says why in plan.reason), or chunks too large for a message
        direct = object_pb2.PutObjectHeader()
        direct.CopyFrom(header)
        direct.direct_put = plan.put_token
        writer = self._direct_writer()
        return self._put_once(direct, None, progress,
                              body=lambda: writer.body(header, plan.put_token, plan.chunk_size_bytes, source.frames()))

    def _direct_writer(self) -> direct_put.DirectWriter:
        with self._writer_lock:
            if self._writer is None:
                assert self._direct is not None
                self._writer = direct_put.DirectWriter(
                    self._direct, lambda request: self._objects.PlanPut(request, timeout=self._timeout_s),
                    self._timeout_s)
            return self._writer

    def _put_once(self, header: object_pb2.PutObjectHeader, source: _PutSource | None,
                  progress: Callable[[int], None] | None,
                  body: Callable[[], Iterator[bytes | memoryview | object_pb2.KnownChunk | object_pb2.WrittenChunk]] | None = None
                  ) -> object_pb2.PutObjectResponse:
        """One PutObject call, of the source's frames or of `body()` (frames and known chunks, whose
        object has no whole-object blake3); errors come back as RingstoreError or the source's own
        exception."""
        started_s = time.monotonic()
        known_size = header.HasField("size_bytes")
        grpc_timeout_s = stream_deadline_s(self._timeout_s, header.size_bytes) if known_size else None
        # With an unknown size the deadline is "no progress for timeout_s".
        watchdog = None if known_size else _Watchdog(started_s + self._timeout_s)
        call_ready = threading.Event()
        call_box: list[Any] = []
        failures: list[BaseException] = []
        sent = [0]

        def requests() -> Iterator[object_pb2.PutObjectRequest | bytes | memoryview]:
            yield object_pb2.PutObjectRequest(header=header)
            hasher = blake3.blake3() if body is None else None
            try:
                for frame in (source.frames() if body is None else body()):
                    if isinstance(frame, object_pb2.KnownChunk):
                        yield object_pb2.PutObjectRequest(known_chunk=frame)
                        sent[0] += frame.size_bytes
                    elif isinstance(frame, object_pb2.WrittenChunk):
                        yield object_pb2.PutObjectRequest(written_chunk=frame)
                        sent[0] += frame.size_bytes
                    else:
                        if hasher is not None:
                            hasher.update(frame)
                        yield frame
                        sent[0] += len(frame)
                    if watchdog is not None:
                        watchdog.move_to(time.monotonic() + self._timeout_s)
                    if progress is not None:
                        progress(sent[0])
            except Exception as exc:  # noqa: BLE001 - handed to the caller below
                # gRPC would log a traceback and report CANCELLED; keep the real error and
                # cancel ourselves so the node never sees a half-close (a short object).
                failures.append(exc)
                call_ready.wait()
                call_box[0].cancel()
                return
            # Only a stream that ends with this message is stored: the node checks the size and the
            # blake3 against what arrived, end to end.
            yield object_pb2.PutObjectRequest(end=object_pb2.PutObjectEnd(
                size_bytes=sent[0], blake3=hasher.digest() if hasher is not None else b""))

        call = self._put_rpc.future(requests(), timeout=grpc_timeout_s)
        call_box.append(call)
        call_ready.set()
        if watchdog is not None:
            watchdog.start(call)
        try:
            return call.result()
        except (grpc.RpcError, grpc.FutureCancelledError) as err:
            # A call we cancelled ourselves raises FutureCancelledError, not RpcError.
            if failures:
                raise failures[0] from None
            if watchdog is not None and watchdog.expired:
                raise DeadlineExceeded(
                    f"put {header.bucket}/{header.key}: no progress for {self._timeout_s:.1f} s "
                    f"({sent[0]} bytes sent): retry, or raise --timeout-s") from err
            if isinstance(err, grpc.RpcError):
                error = rpc_error(err, f"put {header.bucket}/{header.key}", grpc_timeout_s)
                if isinstance(error, Unavailable) and (sent[0] or _cut_mid_stream(str(error))):
                    # gRPC says "Socket closed" or "Stream removed": say what it means here.
                    error = Unavailable(
                        f"put {header.bucket}/{header.key}: the node at {self.address} went away "
                        f"after {sent[0]} bytes were sent ({error}); nothing was stored: put again")
                raise self.diagnosed(error) from err
            raise RingstoreError(f"put {header.bucket}/{header.key}: cancelled",
                                 code=grpc.StatusCode.CANCELLED) from err
        except BaseException:
            call.cancel()  # KeyboardInterrupt and friends: do not leave the upload running
            raise
        finally:
            if watchdog is not None:
                watchdog.stop()

    def get(self, bucket: str = "", key: str = "", *, range_start_bytes: int | None = None,
            range_length_bytes: int | None = None, link: str | None = None, version: str = "") -> ObjectReader:
        """Start reading an object (or `range_length_bytes` from `range_start_bytes`).

        Raises at once if the object is missing or the range is bad; returns a reader whose
        `.info` is filled in and whose chunks are streamed as it is iterated. With `link` (a share
        link token, `create_share_link`) the call carries the link instead of this client's key,
        and bucket and key default to the link's; a range link reads its range when none is asked.
        `version`: read that version (ObjectInfo.version_id) instead of the current one.
        """
        bucket, key, metadata = _with_link(bucket, key, link)
        validate_bucket(bucket)
        validate_key(key)
        validate_range(range_start_bytes, range_length_bytes)
        validate_version(version)
        reader = self._opened(bucket, key, range_start_bytes, range_length_bytes, metadata, version)
        try:
            key_to_use = encryption.check_key(dict(reader.info.metadata), self.encryption_key, f"{bucket}/{key}")
            if key_to_use is not None:
                if range_start_bytes is None and range_length_bytes is None:
                    return DecryptingReader(reader, key_to_use, f"{bucket}/{key}")
                reader.close()  # it read ciphertext bytes of the plaintext range: read its blocks instead
                return self._decrypted_range(reader.info, key_to_use, range_start_bytes or 0, range_length_bytes,
                                             metadata)
        except BaseException:
            reader.close()
            raise
        return reader

    def _opened(self, bucket: str, key: str, start: int | None, length: int | None, metadata, version: str
                ) -> ObjectReader:
        """A reader of the range whose first answer (the object's info) has come, or the error."""
        reader = ObjectReader(self, bucket, key, start, length, metadata, version)
        try:
            reader._open_first()
        except BaseException:
            reader.close()
            raise
        return reader

    def _decrypted_range(self, info: ObjectInfo, key: encryption.EncryptionKey, start: int, length: int | None,
                         metadata) -> DecryptingReader:
        """A reader of plaintext bytes [start, start + length) of an encrypted object: the blocks
        holding them are read (of the same version) and decrypted, the rest of them dropped."""
        where = f"{info.bucket}/{info.key}"
        plain_bytes = int(info.metadata.get(encryption.META_PLAIN_BYTES, "0") or 0)
        if start >= plain_bytes:
            raise OutOfRange(f"range starts at byte {start} but {where} is {plain_bytes} bytes; start below {plain_bytes}")
        end = plain_bytes if length is None else min(plain_bytes, start + length)
        first, last = start // encryption.BLOCK_PLAIN_BYTES, (end - 1) // encryption.BLOCK_PLAIN_BYTES
        cipher_start = first * encryption.BLOCK_CIPHER_BYTES
        cipher_end = min((last + 1) * encryption.BLOCK_CIPHER_BYTES, info.size_bytes)
        reader = self._opened(info.bucket, info.key, cipher_start, cipher_end - cipher_start, metadata,
                              info.version_id)
        return DecryptingReader(reader, key, where, skip=start - first * encryption.BLOCK_PLAIN_BYTES,
                                length=end - start)

    def get_bytes(self, bucket: str = "", key: str = "", *, range_start_bytes: int | None = None,
                  range_length_bytes: int | None = None, link: str | None = None, version: str = "") -> bytes:
        """An object's bytes (or a range of them), whole, in memory (`link`, `version`: as `get`)."""
        with self.get(bucket, key, range_start_bytes=range_start_bytes,
                      range_length_bytes=range_length_bytes, link=link, version=version) as reader:
            return reader.read()

    def stat(self, bucket: str = "", key: str = "", *, link: str | None = None, version: str = "") -> ObjectStat:
        """The current version of an object (or `version`) and where each chunk's copies are (`link`:
        as `get`)."""
        bucket, key, metadata = _with_link(bucket, key, link)
        validate_bucket(bucket)
        validate_key(key)
        validate_version(version)
        response = self._unary(self._objects.StatObject,
                               object_pb2.StatObjectRequest(bucket=bucket, key=key, version_id=version),
                               metadata=metadata)
        return object_stat_from_pb(response)

    def convert(self, bucket: str, key: str, *, replicas: int | None = None,
                ec: str | tuple[int, int] | None = None,
                progress: Callable[[ConvertProgress], None] | None = None) -> ConvertResult:
        """Rewrite an object's current version under `replicas` copies or `ec` ("K+M" or (K, M)).

        Exactly one of replicas and ec is required. `progress(ConvertProgress)` is called for each
        progress message the node sends. The node releases the old copies only once the new
        manifest is durable; an object that already has the policy comes back `unchanged`.
        Retried after UNAVAILABLE (from the start: the node's conversion is idempotent), so
        progress may start over and the counts are those of the last attempt.
        """
        validate_bucket(bucket)
        validate_key(key)
        policy = policy_pb(replicas, ec)
        if policy is None:
            raise InvalidArgument("convert needs a target policy: give replicas or ec")
        request = object_pb2.ConvertObjectRequest(bucket=bucket, key=key, policy=policy)
        return self._retrying(lambda: self._convert_once(request, progress))

    def _convert_once(self, request: object_pb2.ConvertObjectRequest,
                      progress: Callable[[ConvertProgress], None] | None) -> ConvertResult:
        """One ConvertObject call, under the moving deadline the module docstring describes."""
        name = f"{request.bucket}/{request.key}"
        expansion = expansion_ratio(request.policy)
        started_s = time.monotonic()
        deadline_s = started_s + self._timeout_s  # until the first message; only ever moves later
        watchdog = _Watchdog(deadline_s)
        call = self._objects.ConvertObject(request)
        watchdog.start(call)
        last: ConvertProgress | None = None
        try:
            for _ in range(CONVERT_MESSAGES_MAX):
                try:
                    message = next(call)
                except StopIteration:
                    raise Internal(f"convert {name}: the node ended the stream without a "
                                   "result") from None
                except grpc.RpcError as err:
                    if watchdog.expired:
                        done = (f"{last.chunks_done} of {last.chunks_total} chunks done"
                                if last is not None else "no progress reported")
                        raise DeadlineExceeded(
                            f"convert {name}: deadline exceeded after "
                            f"{time.monotonic() - started_s:.1f} s ({done})") from err
                    raise from_rpc_error(err) from err
                which = message.WhichOneof("msg")
                if which == "result":
                    return convert_result_from_pb(message.result)
                if which != "progress":
                    raise Internal(f"convert {name}: the node sent an empty stream message")
                current = convert_progress_from_pb(message.progress)
                moved = last is None or (current.chunks_done, current.bytes_done) > (
                    last.chunks_done, last.bytes_done)
                deadline_s = max(deadline_s, started_s + convert_deadline_s(
                    self._timeout_s, current.bytes_total, expansion))
                if moved:
                    deadline_s = max(deadline_s, time.monotonic() + self._timeout_s)
                watchdog.move_to(deadline_s)
                last = current
                if progress is not None:
                    progress(current)
            raise Internal(f"convert {name}: more than {CONVERT_MESSAGES_MAX} messages; stopped")
        finally:
            watchdog.stop()
            call.cancel()  # no-op once the stream has ended; ends it on an error or Ctrl-C

    def watch(self, bucket: str, prefix: str = "", *, cursor: str = "", from_now: bool = False
              ) -> Iterator[WatchEvent]:
        """Every change to the bucket's objects under `prefix` as it happens: from `cursor` (the
        last event's, from a watch through any node), from now, or (neither) from the oldest change
        the cluster keeps (7 days by default). The first event is progress carrying the starting
        cursor; more progress comes every few seconds while nothing changes. At least once: after
        a reconnect an event may come again. Runs until the caller stops iterating (the stream is
        cancelled then) or the node goes away (Unavailable: watch again from the last cursor,
        through any node)."""
        validate_bucket(bucket)
        validate_prefix(prefix)
        if cursor and from_now:
            raise InvalidArgument("watch from a cursor or from now, not both")
        call = self._objects.Watch(object_pb2.WatchRequest(bucket=bucket, prefix=prefix, cursor=cursor,
                                                           from_now=from_now))
        try:
            while True:
                try:
                    message = next(call)
                except StopIteration:
                    raise Unavailable(f"watch of {bucket}: the node ended the stream; watch again from the last "
                                      "cursor") from None
                except grpc.RpcError as err:
                    raise from_rpc_error(err) from err
                change = None
                if message.HasField("change"):
                    c = message.change
                    change = ObjectChange(key=c.key, kind=c.kind, version_id=c.version_id, version=c.version,
                                          current=c.current, size_bytes=c.size_bytes, etag=c.etag,
                                          written_at_unix_ms=c.written_at_unix_ms)
                yield WatchEvent(cursor=message.cursor, change=change)
        finally:
            call.cancel()

    def list_objects(self, bucket: str, *, prefix: str = "",
                     page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Current objects whose key starts with `prefix`, in key order, fetched page by page."""
        pages = self.list(bucket, prefix=prefix, page_size=page_size)
        return (info for page in pages for info in page.objects)

    # -- multipart uploads (node/objects/uploads.py; nodectl.client.resumable drives them) ----------

    def create_upload(self, bucket: str, key: str, *, replicas: int | None = None,
                      ec: str | tuple[int, int] | None = None, content_type: str = "",
                      metadata: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None) -> str:
        """Start a multipart upload of bucket/key; returns its id. `tags` go on the object when it
        completes."""
        validate_bucket(bucket)
        validate_key(key)
        metadata = dict(metadata or {})
        validate_put_fields(content_type, metadata)
        request = object_pb2.CreateUploadRequest(bucket=bucket, key=key, content_type=content_type,
                                                 metadata=metadata, policy=policy_pb(replicas, ec), tags=dict(tags or {}))
        # Not replayed: a retry after a lost answer would start a second upload (harmless, but it
        # would wait out repair.upload_max_age_s before it is collected).
        return self._unary(self._objects.CreateUpload, request, replayable=False).upload_id

    def upload_part(self, bucket: str, key: str, upload_id: str, part_number: int,
                    data: bytes | bytearray | memoryview, *,
                    progress: Callable[[int], None] | None = None, compression: str | None = None) -> UploadedPart:
        """Store one part (durable on return, like a put); the same number again replaces it.
        `compression`: as `put`'s."""
        source = _PutSource(data)
        header = object_pb2.PutObjectHeader(bucket=bucket, key=key, upload_id=upload_id, part_number=part_number,
                                            size_bytes=source.size_bytes, compression=compression_pb(compression))
        response = self._retrying(lambda: self._put_once(header, source, progress))
        return UploadedPart(part_number=part_number, size_bytes=response.object.size_bytes,
                            md5_hex=response.object.md5.hex(), blake3_hex=response.object.blake3.hex())

    def list_upload_parts(self, bucket: str, key: str, upload_id: str) -> list[UploadedPart]:
        reply = self._unary(self._objects.ListUploadParts,
                            object_pb2.ListUploadPartsRequest(bucket=bucket, key=key, upload_id=upload_id))
        return [UploadedPart(part_number=p.part_number, size_bytes=p.size_bytes, md5_hex=p.md5.hex(),
                             blake3_hex=p.blake3.hex()) for p in reply.parts]

    def complete_upload(self, bucket: str, key: str, upload_id: str, parts: list[UploadedPart], *,
                        if_match: str = "", if_version: str = "", if_absent: bool = False) -> ObjectInfo:
        """Make the object from `parts` (in order); no byte is copied. `if_match`, `if_version`,
        `if_absent`: as on `put`, checked against the key's current version when the object is made
        (FailedPrecondition when it does not hold; the upload stays, to complete again or abort)."""
        request = object_pb2.CompleteUploadRequest(bucket=bucket, key=key, upload_id=upload_id, parts=[
            object_pb2.UploadPart(part_number=p.part_number, md5=bytes.fromhex(p.md5_hex)) for p in parts],
            if_match=if_match, if_version=if_version, if_absent=if_absent)
        try:
            return object_info_from_pb(self._unary(self._objects.CompleteUpload, request, replayable=False).object)
        except Unavailable as lost:
            # The answer may be what was lost: the object is there when its ETag is this upload's.
            expected = etag(parts_md5(bytes.fromhex(p.md5_hex) for p in parts), len(parts), b"")
            try:
                info = self.stat(bucket, key).info
            except RingstoreError:
                raise lost from None
            if info.etag == expected:
                return info
            raise

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._unary(self._objects.AbortUpload,
                    object_pb2.AbortUploadRequest(bucket=bucket, key=key, upload_id=upload_id))

    def delete(self, bucket: str, key: str, *, version: str = "") -> Deleted:
        """Delete an object (the node writes a tombstone, or a delete marker in a versioned bucket),
        or with `version` that one version (or delete marker) for good."""
        validate_bucket(bucket)
        validate_key(key)
        validate_version(version)
        response = self._unary(self._objects.DeleteObject,
                               object_pb2.DeleteObjectRequest(bucket=bucket, key=key, version_id=version))
        return Deleted(bucket=bucket, key=key, version_id=response.version_id, delete_marker=response.delete_marker,
                       permanent=bool(version))

    def set_tags(self, bucket: str, key: str, tags: Mapping[str, str], *, version: str = "") -> ObjectInfo:
        """Replace the tags of the current version (or `version`); an empty mapping removes them."""
        validate_bucket(bucket)
        validate_key(key)
        validate_version(version)
        request = object_pb2.SetObjectTagsRequest(bucket=bucket, key=key, version_id=version, tags=dict(tags))
        return object_info_from_pb(self._unary(self._objects.SetObjectTags, request).object)

    def rollback(self, bucket: str, key: str, version: str) -> ObjectInfo:
        """Make `version` current again, as a new version sharing its chunks (no byte is copied)."""
        validate_bucket(bucket)
        validate_key(key)
        validate_version(version)
        if not version:
            raise InvalidArgument("rollback needs the version to go back to")
        response = self._unary(self._objects.RollbackObject,
                               object_pb2.RollbackObjectRequest(bucket=bucket, key=key, version_id=version))
        return object_info_from_pb(response.object)

    def versions(self, bucket: str, key: str | None = None, *, prefix: str = "",
                 page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every version and delete marker of `key` (or of the keys under `prefix`), newest first
        per key, keys in order; fetched a page at a time as the iterator is advanced."""
        validate_bucket(bucket)
        if key is not None:
            validate_key(key)
            prefix = key
        validate_prefix(prefix)
        _check_page_size(page_size)

        def fetch(token: str) -> tuple[list[object_pb2.ObjectInfo], str]:
            request = object_pb2.ListObjectVersionsRequest(bucket=bucket, prefix=prefix, page_size=page_size,
                                                            page_token=token)
            response = self._unary(self._objects.ListObjectVersions, request)
            return list(response.versions), response.next_page_token

        def versions() -> Iterator[ObjectInfo]:
            for page, _ in _paged(f"versions {bucket}", fetch):
                for pb in page:
                    if key is None or pb.key == key:
                        yield object_info_from_pb(pb)
                    elif pb.key > key:
                        return

        return versions()

    def find(self, bucket: str, *, prefix: str = "", tags: Mapping[str, str] | None = None,
             metadata: Mapping[str, str] | None = None, content_type: str = "", larger_than: int | None = None,
             smaller_than: int | None = None, modified_after_unix_ms: int | None = None,
             modified_before_unix_ms: int | None = None, page_size: int = 1000) -> Iterator[ObjectInfo]:
        """The bucket's current objects meeting every condition given (tags and metadata entries,
        content type exact or "major/*", sizes and write times strictly above or below, key prefix),
        answered from the nodes' indexes; fetched a page at a time as the iterator is advanced."""
        validate_bucket(bucket)
        validate_prefix(prefix)
        _check_page_size(page_size)
        query = common_pb2.ObjectQuery(prefix=prefix, tags=dict(tags or {}), metadata=dict(metadata or {}),
                                       content_type=content_type)
        for field, value in (("larger_than_bytes", larger_than), ("smaller_than_bytes", smaller_than),
                             ("modified_after_unix_ms", modified_after_unix_ms),
                             ("modified_before_unix_ms", modified_before_unix_ms)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InvalidArgument(f"{field} must be a whole number >= 0, got {value!r}")
                setattr(query, field, value)

        def fetch(token: str) -> tuple[list[object_pb2.ObjectInfo], str]:
            request = object_pb2.FindObjectsRequest(bucket=bucket, query=query, page_size=page_size, page_token=token)
            response = self._unary(self._objects.FindObjects, request)
            return list(response.objects), response.next_page_token

        return (object_info_from_pb(pb) for page, _ in _paged(f"find {bucket}", fetch) for pb in page)

    def list(self, bucket: str, *, prefix: str = "", page_size: int = 1000) -> Iterator[ListPage]:
        """Pages of current objects whose key starts with `prefix`, in key order.

        Arguments are checked now; pages are fetched as the iterator is advanced.
        """
        validate_bucket(bucket)
        validate_prefix(prefix)
        _check_page_size(page_size)

        def fetch(token: str) -> tuple[list[object_pb2.ObjectInfo], str]:
            request = object_pb2.ListObjectsRequest(bucket=bucket, prefix=prefix, page_size=page_size,
                                                    page_token=token)
            response = self._unary(self._objects.ListObjects, request)
            return list(response.objects), response.next_page_token

        return (ListPage(objects=[object_info_from_pb(o) for o in page], next_page_token=token)
                for page, token in _paged(f"list {bucket}", fetch))


def _put_header(bucket: str, key: str, *, policy, content_type: str, metadata: dict[str, str], if_match: str,
                if_version: str, if_absent: bool, expires_in_s: float, tags: Mapping[str, str] | None
                ) -> object_pb2.PutObjectHeader:
    if sum(map(bool, (if_match, if_version, if_absent))) > 1:
        raise InvalidArgument("a put takes one condition: if_match, if_version or if_absent")
    return object_pb2.PutObjectHeader(
        bucket=bucket, key=key, content_type=content_type, metadata=metadata, policy=policy,
        if_match=if_match, if_version=if_version, if_absent=if_absent,
        expires_in_ms=max(0, round(expires_in_s * 1000)), tags=dict(tags or {}))


def _check_page_size(page_size: int) -> None:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= LIST_PAGE_SIZE_MAX:
        raise InvalidArgument(f"page_size must be in 1..{LIST_PAGE_SIZE_MAX}, got {page_size!r}")


def _paged(what: str, fetch: Callable[[str], tuple[list, str]]) -> Iterator[tuple[list, str]]:
    """(page, next page token) of a paged listing, fetched as iterated, at most LIST_PAGES_MAX pages;
    Internal when the node repeats a token or the pages do not end."""
    token = ""
    for _ in range(LIST_PAGES_MAX):
        page, next_token = fetch(token)
        yield page, next_token
        if not next_token:
            return
        if next_token == token:
            raise Internal(f"{what}: the node returned the same page token twice")
        token = next_token
    raise Internal(f"{what}: more than {LIST_PAGES_MAX} pages; stopped")


def _with_link(bucket: str, key: str, link: str | None) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(bucket, key, metadata) of a call: with a share link, the link's object unless one is named,
    and the link in the call's metadata. The token is read, not checked (only the cluster can):
    InvalidArgument for one that is not a share link at all."""
    if link is None:
        return bucket, key, ()
    token = link.strip()
    try:
        grant = links.peek(token)
    except links.LinkError as err:
        raise InvalidArgument(str(err)) from None
    return bucket or grant.bucket, key or grant.key, ((links.HEADER_LINK, token),)


# What gRPC says when an established stream's connection dies (the node was killed or restarted).
_MID_STREAM_DETAILS = ("Stream removed", "Connection reset", "Socket closed")


def _cut_mid_stream(details: str) -> bool:
    """Whether a put's UNAVAILABLE came from a connection that died under an open stream (perhaps
    before the first data frame left: a slow source), rather than from one never made."""
    return any(text in details for text in _MID_STREAM_DETAILS)


class DecryptingReader:
    """An ObjectReader of a client-side encrypted object, yielding its plaintext (encryption.py):
    the ciphertext is checked against its blake3 as any get's, and each block against its tag. With
    `skip` and `length`: only that part of the plaintext the blocks read hold."""

    def __init__(self, reader: ObjectReader, key: encryption.EncryptionKey, where: str, *, skip: int = 0,
                 length: int | None = None) -> None:
        self._reader = reader
        self.info = reader.info
        plain_bytes = int(reader.info.metadata.get(encryption.META_PLAIN_BYTES, "0") or 0)
        self.range_length_bytes = plain_bytes if length is None else length
        self._plain = _sliced(encryption.decrypted(iter(reader), key, where), skip, length)

    def __iter__(self) -> Iterator[bytes]:
        return self._plain

    def read(self) -> bytes:
        return b"".join(self._plain)

    def readinto_file(self, fileobj: BinaryIO, progress: Callable[[int], None] | None = None) -> int:
        written_bytes = 0
        for block in self._plain:
            fileobj.write(block)
            written_bytes += len(block)
            if progress is not None:
                progress(written_bytes)
        return written_bytes

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> DecryptingReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _sliced(blocks: Iterator[bytes], skip: int, length: int | None) -> Iterator[bytes]:
    """`length` bytes (None: all) of the stream after its first `skip`."""
    for block in blocks:
        if skip >= len(block):
            skip -= len(block)
            continue
        block, skip = block[skip:], 0
        if length is not None:
            block = block[:length]
            length -= len(block)
        if block:
            yield block
        if length == 0:
            return
