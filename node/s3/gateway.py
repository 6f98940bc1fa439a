"""The S3 gateway: every node answers the S3 API on its S3 port, over its own object layer.

A request is authenticated (AWS SigV4, node/s3/sigv4.py) against the tenants' access keys, becomes
the caller of the node's object layer exactly as a gRPC call's verified key does (node/auth/
principal.py), and is served by the same code the gRPC ObjectService runs, in-process: the same
policy checks, quotas, write quorums and verified reads. Nothing here keeps state of its own; any
node answers any request, so a client may use any node, and another after one dies.

Addressing: path style (`/bucket/key`) always; virtual-hosted style (`bucket.DOMAIN/key`) when the
node runs with `--s3-domain DOMAIN`. `GET /health` with no credentials and no query is the load
balancers' check (so an anonymous path-style listing of a bucket named `health` is not possible;
a signed one is).

Under `--insecure` the cluster has no access keys: the gateway takes every request as the operator
and checks no signature (the gRPC ports do the same there), and says so in the log at start.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from aiohttp import web
from multidict import CIMultiDict

from node import errors, store
from node.api.object_service import ObjectServicer
from node.api.status import in_process
from node.auth import policy
from node.auth.principal import ANONYMOUS, Anonymous, LinkHolder, reset_caller, set_caller
from node.erasure.chunking import slices
from node.objects import at_rest, uploads, validate
from node.objects.coordinator import Coordinator
from node.s3 import documents, sigv4
from node.s3.body import BodyFrames, PutChecks
from node.s3.errors import S3Error
from node.s3.server import S3Server
from ringstore.auth.links import LinkError
from ringstore.auth.signing import key_state_refusal
from node.hlc import stamp_key
from node.store.versions import NULL_VERSION_ID, show_version_id
from ringstore.v1 import common_pb2, object_pb2

log = logging.getLogger("ringstore.s3")

REDUNDANCY_HEADER = "x-ringstore-redundancy"
# The query parameter that carries a share link's token (nodectl share prints such URLs).
LINK_PARAMETER = "x-ringstore-link"
# Bytes of a get's body handed to aiohttp per write (each write may wait for the client to drain).
WRITE_BYTES = 1 << 20
META_PREFIX = "x-amz-meta-"
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
# Most keys one DeleteObjects request names (S3's limit).
DELETE_KEYS_MAX = 1000
# Most keys one listing page returns (S3's limit; a larger max-keys gets this many).
LIST_KEYS_MAX = 1000
# Keys asked of the metadata homes per listing round.
LIST_ROUND_KEYS = 1000
# Above every character a key can hold: a listing that rolled keys up into a common prefix goes on
# after PREFIX + this, past every key under it, instead of reading them one by one.
_PAST_EVERYTHING = "\U0010ffff"
_POLICY_RE = re.compile(r"^(?:replicas=(\d{1,2})|ec=(\d{1,2})\+(\d{1,2}))$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Subresources of a bucket or object this gateway answers; any other one is NotImplemented.
BUCKET_SUBRESOURCES = frozenset({"location", "acl", "versioning", "versions", "delete", "list-type", "uploads",
                                 "lifecycle", "tagging", "encryption"})
OBJECT_SUBRESOURCES = frozenset({"partNumber", "uploads", "uploadId", "tagging"})
# Query parameters that are a request's options, not subresources.
OPTIONS = frozenset({
    "prefix", "delimiter", "max-keys", "marker", "start-after", "continuation-token", "encoding-type",
    "fetch-owner", "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "x-id", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
    "X-Amz-Signature", "X-Amz-Content-Sha256", "X-Amz-Security-Token", "x-amz-user-agent", "optional-object-attributes",
    "x-ringstore-link", "versionId", "key-marker", "version-id-marker", "upload-id-marker", "max-uploads",
    "max-parts", "part-number-marker",
})
# A bucket record's versioning as GetBucketVersioning's Status ("" for a bucket never versioned).
VERSIONING_STATUS = {common_pb2.VERSIONING_ENABLED: "Enabled", common_pb2.VERSIONING_SUSPENDED: "Suspended"}
RESPONSE_OVERRIDES = {f"response-{name}": name for name in (
    "content-type", "content-language", "expires", "cache-control", "content-disposition", "content-encoding")}


class S3Gateway:
    """The S3 API of one node. `lookup_key(key_id)` -> (AccessKey, secret) | None (the gRPC port's
    lookup); `health()` -> (serving, body) for GET /health. `lookup_key` None: --insecure."""

    def __init__(self, *, objects: ObjectServicer, coordinator: Coordinator, metrics,
                 lookup_key: Callable | None, region: str, domain: str, health: Callable[[], tuple[bool, dict]],
                 object_size_bytes_max: int, wall_ms: Callable[[], int], ssl_context=None,
                 check_link: Callable[[str], LinkHolder] | None = None) -> None:
        self._objects = objects
        self._c = coordinator
        self._metrics = metrics
        self._lookup_key = lookup_key
        self.region = region
        self._domain = domain.lower().strip(".")
        self._health = health
        self._object_size_bytes_max = object_size_bytes_max
        self._wall_ms = wall_ms
        # check_link(token) -> the share link's holder, or LinkError (node/auth/links.py); None: no links.
        self._check_link = check_link
        self._server = S3Server(self.handle, ssl_context=ssl_context)

    def start(self, address: str) -> str:
        return self._server.start(address)

    def stop(self) -> None:
        self._server.stop()

    # -- the request's edge ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = secrets.token_hex(8).upper()
        request["s3_request_id"] = request_id
        operation = "unknown"
        resource = key = ""
        try:
            raw_path, _, raw_query = request.raw_path.partition("?")
            query = _query(raw_query)
            bucket, key = self._address(request, raw_path)
            resource = "/" + bucket + ("/" + key if key else "") if bucket else "/"
            if (request.method == "GET" and raw_path == "/health" and not raw_query
                    and "authorization" not in request.headers):
                operation = "health"
                response = await self._health_response()
            else:
                operation = _operation(request.method, bucket, key, query, request.headers)
                if LINK_PARAMETER in query:
                    signed, principal = None, await self._link_holder(request, operation, query)
                else:
                    signed, principal = await self._authenticate(request, raw_path, raw_query)
                response = await getattr(self, "_" + operation)(request, bucket, key, query, signed, principal)
        except (ConnectionResetError, asyncio.CancelledError):
            self._metrics.s3_requests.labels(operation, "disconnected").inc()
            raise
        except Exception as exc:  # noqa: BLE001 - the edge: every error becomes an S3 error
            if request.get("s3_prepared"):
                # The status line went out: all that is left is to break the connection, so the
                # client sees a body shorter than its Content-Length, never a short object.
                log.warning("S3 %s %s broke off after its headers: %s", request.method, resource, exc)
                self._metrics.s3_requests.labels(operation, "broken").inc()
                raise
            response = self._error_response(request, self._s3_error(exc, operation, resource, request_id, key),
                                            resource, request_id)
        if not response.prepared:
            response.headers["x-amz-request-id"] = request_id
        self._metrics.s3_requests.labels(operation, str(response.status)).inc()
        self._metrics.s3_latency.labels(operation).observe(time.perf_counter() - started)
        return response

    def _s3_error(self, exc: Exception, operation: str, resource: str, request_id: str, key: str) -> S3Error:
        if isinstance(exc, S3Error):
            return exc
        if isinstance(exc, errors.RingstoreError):
            return s3_error(exc, key_context=bool(key))
        if isinstance(exc, store.StoreFull):
            return S3Error("InsufficientStorage", str(exc), status=507)
        log.error("S3 %s failed (request %s)", resource, request_id, exc_info=exc)
        return S3Error("InternalError", f"internal error in {operation}; see the node log (request {request_id})")

    def _error_response(self, request: web.Request, err: S3Error, resource: str, request_id: str) -> web.Response:
        body = b"" if request.method == "HEAD" or err.status == 304 else err.xml(resource, request_id)
        response = web.Response(status=err.status, body=body, headers=err.headers,
                                content_type="application/xml" if body else None)
        return response

    def _address(self, request: web.Request, raw_path: str) -> tuple[str, str]:
        """(bucket, key) the request names, percent-decoded; path style, or virtual-hosted style
        when the Host is a subdomain of --s3-domain."""
        path = _decode(raw_path)
        if not path.startswith("/"):
            raise S3Error("InvalidRequest", "the request path must start with '/'")
        if self._domain:
            host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
            if host.endswith("." + self._domain):
                return host[: -len(self._domain) - 1], path[1:]
        bucket, _, key = path[1:].partition("/")
        return bucket, key

    async def _authenticate(self, request: web.Request, raw_path: str, raw_query: str
                            ) -> tuple[sigv4.Signed | None, object]:
        """(the verified signature or None, the caller for the object layer)."""
        if self._lookup_key is None:
            return None, None  # --insecure: no keys exist, every request acts as the operator
        found: dict = {}

        def secret_for(key_id: str) -> str | None:
            answer = self._lookup_key(key_id)
            if answer is None:
                return None
            found["record"] = answer[0]
            return answer[1]

        def verify() -> sigv4.Signed | None:
            try:
                return sigv4.verify(request.method, raw_path, raw_query, request.headers, secret_for=secret_for,
                                    region=self.region, now=self._wall_ms() / 1000)
            except errors.Unauthenticated as err:  # the cluster has no keys yet
                raise S3Error("AccessDenied", str(err)) from None
            except errors.Unavailable as err:
                raise S3Error("ServiceUnavailable", f"cannot check the access key now: {err}") from None

        signed = await self._server.run_blocking(verify)
        if signed is None:
            return None, ANONYMOUS
        record = found["record"]
        refused = key_state_refusal(record, self._wall_ms())
        if refused is not None:
            self._metrics.auth_failures.labels(refused[0]).inc()
            raise S3Error("InvalidAccessKeyId", refused[1])
        return signed, record

    async def _link_holder(self, request: web.Request, operation: str, query: dict[str, str]) -> LinkHolder:
        """The caller a share link in the query stands for: it may get or head its one object."""
        if self._check_link is None:
            raise S3Error("AccessDenied", "this node serves no share links (it runs --insecure)")
        if "authorization" in request.headers or "X-Amz-Signature" in query:
            raise S3Error("InvalidRequest", "a request carries a share link or a signature, not both")
        if operation not in ("get_object", "head_object"):
            raise S3Error("AccessDenied", "a share link only reads its object: GET or HEAD it")

        def check() -> LinkHolder:
            try:
                return self._check_link(query[LINK_PARAMETER])
            except LinkError as err:
                self._metrics.auth_failures.labels(err.reason).inc()
                raise S3Error("AccessDenied", err.message) from None
            except (errors.Unauthenticated, errors.Unavailable) as err:
                raise S3Error("AccessDenied" if isinstance(err, errors.Unauthenticated) else "ServiceUnavailable",
                              f"cannot check the share link: {err}") from None

        return await self._server.run_blocking(check)

    async def _run(self, principal, fn: Callable, *args):
        """`fn(*args)` on a worker thread, as `principal` (node/auth/principal.py)."""
        def as_caller():
            token = set_caller(principal)
            try:
                return fn(*args)
            finally:
                reset_caller(token)
        return await self._server.run_blocking(as_caller)

    def _allow_bucket(self, action: str, bucket: str) -> None:
        """The bucket exists (NoSuchBucket for everyone, the operator too) and the caller may `action` it."""
        self._c.bucket(bucket)
        self._objects.allow(action, bucket)

    async def _health_response(self) -> web.Response:
        serving, body = await self._server.run_blocking(self._health)
        return web.Response(status=200 if serving else 503, text=json.dumps(body, sort_keys=True),
                            content_type="application/json")

    async def _small_body(self, request: web.Request, signed: sigv4.Signed | None, what: str) -> bytes:
        """A request's whole XML body, at most XML_BODY_BYTES_MAX, with its digests checked."""
        length = request.content_length
        if length is not None and length > documents.XML_BODY_BYTES_MAX:
            raise S3Error("EntityTooLarge", f"the {what} body is {length} bytes; the limit is "
                                            f"{documents.XML_BODY_BYTES_MAX}")
        raw = await request.content.read(documents.XML_BODY_BYTES_MAX + 1)
        if len(raw) > documents.XML_BODY_BYTES_MAX:
            raise S3Error("EntityTooLarge", f"the {what} body is over {documents.XML_BODY_BYTES_MAX} bytes")
        checks = PutChecks(_lower(request.headers), signed, insecure=self._lookup_key is None)
        return b"".join(bytes(piece) for piece in checks.frames(iter([raw])))

    # -- the service ----------------------------------------------------------------------------

    async def _list_buckets(self, request, bucket, key, query, signed, principal) -> web.Response:
        if isinstance(principal, Anonymous):
            raise S3Error("AccessDenied", "listing buckets needs a signed request: configure the client's "
                                          "access key")
        reply = await self._run(principal, in_process(self._objects.ListBuckets), object_pb2.ListBucketsRequest())
        tenant = getattr(principal, "tenant", "") or ""
        body = documents.list_buckets(((b.name, b.created_at_unix_ms) for b in reply.buckets), tenant)
        return _xml(body)

    # -- buckets --------------------------------------------------------------------------------

    async def _create_bucket(self, request, bucket, key, query, signed, principal) -> web.Response:
        _check_bucket_name(bucket)
        constraint = documents.parse_location(await self._small_body(request, signed, "CreateBucket"))
        if constraint and constraint != self.region:
            raise S3Error("InvalidLocationConstraint",
                          f"location constraint {constraint!r} is not this endpoint's region; give "
                          f"{self.region!r} or none", status=400)
        acl = request.headers.get("x-amz-acl", "private")
        if acl not in ("private", "public-read"):
            raise S3Error("NotImplemented", f"canned ACL {acl!r} is not supported; use private or public-read")
        create = object_pb2.CreateBucketRequest(bucket=bucket)
        redundancy = request.headers.get(REDUNDANCY_HEADER)
        if redundancy:
            create.default_policy.CopyFrom(parse_redundancy(redundancy))

        def work() -> None:
            try:
                in_process(self._objects.CreateBucket)(create)
            except errors.AlreadyExists:
                # Yours when this caller would have been its owner (the operator owns "").
                mine = self._c.bucket(bucket).owner == policy.owner_for_new_bucket(bucket)
                raise S3Error("BucketAlreadyOwnedByYou" if mine else "BucketAlreadyExists",
                              f"bucket {bucket!r} already exists" + (" and is yours" if mine else
                                                                      ": bucket names are global; choose another"))
            if acl == "public-read":
                in_process(self._objects.SetBucketPublicRead)(
                    object_pb2.SetBucketPublicReadRequest(bucket=bucket, public_read=True))
        await self._run(principal, work)
        return web.Response(status=200, headers={"Location": "/" + bucket})

    async def _delete_bucket(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, in_process(self._objects.DeleteBucket), object_pb2.DeleteBucketRequest(bucket=bucket))
        return web.Response(status=204)

    async def _head_bucket(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, self._allow_bucket, "list", bucket)
        return web.Response(status=200, headers={"x-amz-bucket-region": self.region})

    async def _get_bucket_location(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, self._allow_bucket, "info", bucket)
        return _xml(documents.location(self.region))

    async def _get_bucket_versioning(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, self._allow_bucket, "info", bucket)
        record = await self._run(principal, self._c.bucket, bucket)
        return _xml(documents.versioning(VERSIONING_STATUS.get(record.versioning, "")))

    async def _put_bucket_versioning(self, request, bucket, key, query, signed, principal) -> web.Response:
        status = documents.parse_versioning(await self._small_body(request, signed, "PutBucketVersioning"))
        state = common_pb2.VERSIONING_ENABLED if status == "Enabled" else common_pb2.VERSIONING_SUSPENDED

        def work() -> None:
            self._objects.allow("set-versioning", bucket)
            self._c.set_versioning(bucket, state)

        await self._run(principal, work)
        return web.Response(status=200)

    async def _put_bucket_encryption(self, request, bucket, key, query, signed, principal) -> web.Response:
        documents.parse_bucket_encryption(await self._small_body(request, signed, "PutBucketEncryption"))
        await self._set_encryption(principal, bucket, common_pb2.ENCRYPTION_AES256_GCM)
        return web.Response(status=200)

    async def _delete_bucket_encryption(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._set_encryption(principal, bucket, common_pb2.ENCRYPTION_NONE)
        return web.Response(status=204)

    async def _set_encryption(self, principal, bucket: str, setting: int) -> None:
        def work() -> None:
            self._objects.allow("set-encryption", bucket)
            self._c.set_encryption(bucket, setting)

        await self._run(principal, work)

    async def _get_bucket_encryption(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, self._allow_bucket, "info", bucket)
        record = await self._run(principal, self._c.bucket, bucket)
        if record.encryption != common_pb2.ENCRYPTION_AES256_GCM:
            raise S3Error("ServerSideEncryptionConfigurationNotFoundError",
                          f"bucket {bucket} does not encrypt at rest; turn it on with PutBucketEncryption (AES256)")
        return _xml(documents.bucket_encryption())

    async def _put_bucket_tagging(self, request, bucket, key, query, signed, principal) -> web.Response:
        tags = documents.parse_tagging(await self._small_body(request, signed, "PutBucketTagging"))

        def work() -> None:
            self._objects.allow("set-bucket-tags", bucket)
            self._c.set_bucket_tags(bucket, tags)

        await self._run(principal, work)
        return web.Response(status=204)

    async def _get_bucket_tagging(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, self._allow_bucket, "info", bucket)
        record = await self._run(principal, self._c.bucket, bucket)
        if not record.tags:
            raise S3Error("NoSuchTagSet", f"bucket {bucket} has no tags")
        return _xml(documents.tagging(dict(record.tags)))

    async def _delete_bucket_tagging(self, request, bucket, key, query, signed, principal) -> web.Response:
        def work() -> None:
            self._objects.allow("set-bucket-tags", bucket)
            self._c.set_bucket_tags(bucket, {})

        await self._run(principal, work)
        return web.Response(status=204)

    async def _put_object_tagging(self, request, bucket, key, query, signed, principal) -> web.Response:
        tags = documents.parse_tagging(await self._small_body(request, signed, "PutObjectTagging"))
        version = query.get("versionId", "")

        def work() -> common_pb2.Manifest:
            self._objects.allow("put", bucket, key)
            return self._c.set_object_tags(bucket, key, version, tags)

        manifest = await self._run(principal, work)
        return web.Response(status=200, headers=self._version_header(bucket, manifest.version_id))

    async def _get_object_tagging(self, request, bucket, key, query, signed, principal) -> web.Response:
        version = query.get("versionId", "")

        def work() -> common_pb2.Manifest:
            self._objects.allow("stat", bucket, key)
            return self._c.version_manifest(bucket, key, version) if version else self._c.current_manifest(bucket, key)

        manifest = await self._run(principal, work)
        response = _xml(documents.tagging(dict(manifest.tagging.tags)))
        response.headers.update(self._version_header(bucket, manifest.version_id))
        return response

    async def _delete_object_tagging(self, request, bucket, key, query, signed, principal) -> web.Response:
        version = query.get("versionId", "")

        def work() -> common_pb2.Manifest:
            self._objects.allow("put", bucket, key)
            return self._c.set_object_tags(bucket, key, version, {})

        manifest = await self._run(principal, work)
        return web.Response(status=204, headers=self._version_header(bucket, manifest.version_id))

    async def _put_bucket_lifecycle(self, request, bucket, key, query, signed, principal) -> web.Response:
        rules = documents.parse_lifecycle(await self._small_body(request, signed, "PutBucketLifecycleConfiguration"))

        def work() -> None:
            self._objects.allow("set-lifecycle", bucket)
            self._c.set_lifecycle(bucket, rules)

        await self._run(principal, work)
        return web.Response(status=200)

    async def _get_bucket_lifecycle(self, request, bucket, key, query, signed, principal) -> web.Response:
        await self._run(principal, self._allow_bucket, "info", bucket)
        record = await self._run(principal, self._c.bucket, bucket)
        if not record.lifecycle:
            raise S3Error("NoSuchLifecycleConfiguration", f"bucket {bucket} has no lifecycle rules")
        return _xml(documents.lifecycle(record.lifecycle))

    async def _delete_bucket_lifecycle(self, request, bucket, key, query, signed, principal) -> web.Response:
        def work() -> None:
            self._objects.allow("set-lifecycle", bucket)
            self._c.set_lifecycle(bucket, [])

        await self._run(principal, work)
        return web.Response(status=204)

    async def _list_object_versions(self, request, bucket, key, query, signed, principal) -> web.Response:
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        encoding_type = query.get("encoding-type", "")
        if encoding_type not in ("", "url"):
            raise S3Error("InvalidArgument", f"encoding-type {encoding_type[:20]!r} is not url")
        max_keys = _max_keys(query.get("max-keys"))
        key_marker = query.get("key-marker", "")
        version_marker = query.get("version-id-marker", "")
        if version_marker and not key_marker:
            raise S3Error("InvalidArgument", "a version-id-marker needs a key-marker (the key it is a version of)")

        def work() -> tuple[list, bool, str]:
            self._objects.allow("list", bucket, prefix=prefix)
            record = self._c.bucket(bucket)
            after_key, after_stamp = key_marker, None
            if version_marker:
                try:
                    after_stamp = list(stamp_key(self._c.version_manifest(bucket, key_marker, version_marker).version))
                except errors.NoSuchVersion:
                    raise S3Error("InvalidArgument", f"version-id-marker {version_marker[:40]!r} is not a version "
                                                     f"of {key_marker[:80]!r}") from None
            elif delimiter and key_marker.endswith(delimiter):
                after_key = key_marker + _PAST_EVERYTHING  # a common prefix: go on past every key under it
            entries: list = []
            while len(entries) <= max_keys:
                page, after = self._c.versions_page(bucket, prefix=prefix, after_key=after_key,
                                                    after_stamp=after_stamp, page_size=max_keys + 1 - len(entries))
                rolled = False
                for manifest, latest in page:
                    cut = manifest.key.find(delimiter, len(prefix)) if delimiter else -1
                    if cut >= 0:
                        entries.append(manifest.key[:cut + len(delimiter)])
                        after_key, after_stamp, rolled = entries[-1] + _PAST_EVERYTHING, None, True
                        break
                    entries.append((manifest, latest))
                    after_key, after_stamp = manifest.key, list(stamp_key(manifest.version))
                if not rolled and after is None:
                    break
            truncated = len(entries) > max_keys
            return entries[:max_keys], truncated, record.owner

        entries, truncated, owner = await self._run(principal, work)
        return _xml(documents.list_versions(
            bucket=bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys, encoding_type=encoding_type,
            key_marker=key_marker, version_id_marker=version_marker, entries=entries, truncated=truncated,
            owner_tenant=owner))

    async def _get_bucket_acl(self, request, bucket, key, query, signed, principal) -> web.Response:
        info = await self._run(principal, in_process(self._objects.GetBucketInfo),
                               object_pb2.GetBucketInfoRequest(bucket=bucket))
        return _xml(documents.bucket_acl(info.access.owner, info.access.public_read))

    async def _put_bucket_acl(self, request, bucket, key, query, signed, principal) -> web.Response:
        body = await self._small_body(request, signed, "PutBucketAcl")
        acl = request.headers.get("x-amz-acl")
        if body.strip() or acl is None:
            raise S3Error("NotImplemented", "set a bucket's ACL with the x-amz-acl header (private or "
                                            "public-read); grant other tenants with `nodectl bucket grant`")
        if acl not in ("private", "public-read"):
            raise S3Error("NotImplemented", f"canned ACL {acl!r} is not supported; use private or public-read")
        await self._run(principal, in_process(self._objects.SetBucketPublicRead),
                        object_pb2.SetBucketPublicReadRequest(bucket=bucket, public_read=acl == "public-read"))
        return web.Response(status=200)

    async def _list_objects(self, request, bucket, key, query, signed, principal) -> web.Response:
        version = 2 if query.get("list-type") == "2" else 1
        if "list-type" in query and query["list-type"] not in ("1", "2"):
            raise S3Error("InvalidArgument", f"list-type {query['list-type']!r} is not 1 or 2")
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        encoding_type = query.get("encoding-type", "")
        if encoding_type not in ("", "url"):
            raise S3Error("InvalidArgument", f"encoding-type {encoding_type!r} is not 'url'; leave it out or give url")
        max_keys = _max_keys(query.get("max-keys"))
        if version == 2:
            token = query.get("continuation-token", "")
            after = _decode_token(token) if token else query.get("start-after", "")
        else:
            token = ""
            after = query.get("marker", "")

        def work():
            self._objects.allow("list", bucket, prefix=prefix)
            validate.prefix(prefix, validate.KEY_LENGTH_BYTES_MAX)
            return self._list(bucket, prefix, delimiter, after, max_keys), self._c.bucket(bucket).owner

        (entries, truncated), owner = await self._run(principal, work)
        last = (entries[-1] if isinstance(entries[-1], str) else entries[-1].key) if entries else ""
        body = documents.list_objects(
            bucket=bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys, encoding_type=encoding_type,
            entries=entries, truncated=truncated, version=version, marker=query.get("marker", ""),
            next_marker=last, start_after=query.get("start-after", ""), token=token,
            next_token=_encode_token(last) if truncated else "", fetch_owner=query.get("fetch-owner") == "true",
            owner_tenant=owner)
        return _xml(body)

    def _list(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int) -> tuple[list, bool]:
        """Up to `max_keys` entries after `after` (manifests, and common prefixes as str), and whether
        more follow. Keys under a common prefix are skipped by seeking past it, so a listing of a
        few folders over millions of keys reads a few pages."""
        if max_keys == 0:
            return [], False  # nothing asked: no continuation either, so no client pages forever
        entries: list = []
        cursor = _past_prefix(after, prefix, delimiter)
        while True:
            page, _ = self._c.list_page(bucket, prefix=prefix, start_after=cursor, page_size=LIST_ROUND_KEYS)
            for manifest in page:
                if entries and isinstance(entries[-1], str) and manifest.key.startswith(entries[-1]):
                    continue  # rolled up into the common prefix just listed
                if len(entries) == max_keys:
                    return entries, True
                rolled = _common_prefix(manifest.key, prefix, delimiter)
                entries.append(manifest if rolled is None else rolled)
            if len(page) < LIST_ROUND_KEYS:
                return entries, False
            last = entries[-1]
            cursor = last + _PAST_EVERYTHING if isinstance(last, str) else last.key

    async def _delete_objects(self, request, bucket, key, query, signed, principal) -> web.Response:
        body = await self._small_body(request, signed, "DeleteObjects")
        keys, quiet = documents.parse_delete(body)
        if len(keys) > DELETE_KEYS_MAX:
            raise S3Error("MalformedXML", f"DeleteObjects names {len(keys)} keys; the limit is {DELETE_KEYS_MAX}")

        def work():
            record = self._c.bucket(bucket)
            deleted, failed = [], []
            for name, version in keys:
                try:
                    self._objects.allow("delete", bucket, name)
                    written = self._c.delete_object(bucket, name, version, mark_absent=True)
                    deleted.append((name, version, _marker_id(written, record.versioning)))
                except (errors.NoSuchKey, errors.NoSuchVersion):
                    deleted.append((name, version, ""))  # S3: deleting what is not there succeeds
                except errors.RingstoreError as err:
                    failed.append((name, s3_error(err, key_context=True)))
            return deleted, failed

        deleted, failed = await self._run(principal, work)
        return _xml(documents.delete_result(deleted, failed, quiet, query.get("encoding-type", "")))

    # -- objects --------------------------------------------------------------------------------

    async def _put_object(self, request, bucket, key, query, signed, principal) -> web.Response:
        headers = _lower(request.headers)
        _check_put_conditions(headers)
        acl = headers.get("x-amz-acl", "private")
        if acl not in ("private", "bucket-owner-full-control"):
            raise S3Error("NotImplemented", f"object ACL {acl!r} is not supported: objects take their bucket's "
                                            "access (make the bucket public-read instead)")
        header = _put_header(bucket, key, headers)
        header.if_match = headers.get("if-match", "").strip()
        header.if_absent = "if-none-match" in headers
        header.tags.update(documents.parse_tagging_header(headers.get("x-amz-tagging", "")))
        reply = await self._stream_put(request, headers, signed, principal, header)
        return web.Response(status=200, headers={"ETag": f'"{reply.object.md5.hex()}"',
                                                 **self._version_header(bucket, reply.object.version_id),
                                                 **_encryption_header(reply.object.encryption)})

    async def _stream_put(self, request, headers: dict[str, str], signed, principal, header: object_pb2.PutObjectHeader,
                          *, place: Callable[[], tuple[str, str] | None] = lambda: None,
                          allow_inline: bool = True) -> object_pb2.PutObjectResponse:
        """Store the request's body under `header` (ObjectServicer.put), checked as it streams;
        `place()` runs first on the worker: where the manifest goes when not at the header's key."""
        checks = PutChecks(headers, signed, insecure=self._lookup_key is None)
        size = _declared_size(headers, checks.chunked)
        if size > self._object_size_bytes_max:
            raise S3Error("EntityTooLarge", f"the object is {size} bytes; this cluster's limit is "
                                            f"{self._object_size_bytes_max} bytes (storage.object_size_bytes_max)")
        header.size_bytes = size
        body = BodyFrames(request, asyncio.get_running_loop())

        def stream():
            yield object_pb2.PutObjectRequest(header=header)
            yield from checks.frames(iter(body))
            if checks.size != size:
                raise S3Error("IncompleteBody", f"the body carried {checks.size} bytes, not the {size} its headers "
                                                "declared; nothing was stored: send it again")
            yield object_pb2.PutObjectRequest(end=object_pb2.PutObjectEnd(size_bytes=checks.size))

        def annotate(manifest: common_pb2.Manifest) -> None:
            manifest.md5 = checks.md5.digest()

        def work() -> object_pb2.PutObjectResponse:
            return self._objects.put(stream(), annotate=annotate, record_at=place(), allow_inline=allow_inline)

        try:
            reply = await self._run(principal, work)
        finally:
            await body.stop()
        self._metrics.s3_bytes.labels("in").inc(reply.object.size_bytes)
        return reply

    async def _copy_object(self, request, bucket, key, query, signed, principal) -> web.Response:
        headers = _lower(request.headers)
        source_bucket, source_key, source_version = _copy_source(headers["x-amz-copy-source"])
        directive = headers.get("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", f"x-amz-metadata-directive {directive[:20]!r} is not COPY or REPLACE")
        if directive == "COPY" and (source_bucket, source_key) == (bucket, key) and not source_version:
            raise S3Error("InvalidRequest", "this copy request is illegal because it copies an object to itself "
                                            "without changing it: add x-amz-metadata-directive: REPLACE with the "
                                            "new metadata")
        header = _put_header(bucket, key, headers)
        tag_directive = headers.get("x-amz-tagging-directive", "COPY").upper()
        if tag_directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", f"x-amz-tagging-directive {tag_directive[:20]!r} is not COPY or REPLACE")
        if tag_directive == "REPLACE":
            header.tags.update(documents.parse_tagging_header(headers.get("x-amz-tagging", "")))
        check = _copy_check(headers)
        manifest = await self._run(principal, lambda: self._objects.copy(source_bucket, source_key, header,
                                                                           replace=directive == "REPLACE", check=check,
                                                                           source_version=source_version,
                                                                           replace_tags=tag_directive == "REPLACE"))
        response = _xml(documents.copy_result(documents.etag_header(manifest), manifest.created_at_unix_ms))
        response.headers.update(self._version_header(bucket, manifest.version_id))
        response.headers.update(_encryption_header(at_rest.object_encryption(manifest)))
        if source_version:
            response.headers["x-amz-copy-source-version-id"] = source_version
        return response

    # -- multipart uploads ----------------------------------------------------------------------

    async def _create_multipart_upload(self, request, bucket, key, query, signed, principal) -> web.Response:
        headers = _lower(request.headers)
        header = _put_header(bucket, key, headers)
        tags = documents.parse_tagging_header(headers.get("x-amz-tagging", ""))

        def work() -> str:
            self._objects.allow("put", bucket, key)
            return self._c.uploads.create(bucket, key, content_type=header.content_type,
                                          metadata=dict(header.metadata), headers=dict(header.headers),
                                          policy=header.policy if header.HasField("policy") else None, tags=tags,
                                          encryption=header.encryption)

        upload_id = await self._run(principal, work)
        response = _xml(documents.initiate_upload(bucket, key, upload_id))
        response.headers.update(_encryption_header(header.encryption))
        return response

    async def _upload_part(self, request, bucket, key, query, signed, principal) -> web.Response:
        if "x-amz-copy-source" in request.headers:
            return await self._upload_part_copy(request, bucket, key, query, signed, principal)
        header = object_pb2.PutObjectHeader(bucket=bucket, key=key, upload_id=query["uploadId"],
                                            part_number=_part_number(query.get("partNumber", "")))

        def place() -> tuple[str, str]:
            self._objects.allow("put", bucket, key)
            return self._objects.part_location(header)

        reply = await self._stream_put(request, _lower(request.headers), signed, principal, header, place=place,
                                       allow_inline=False)
        return web.Response(status=200, headers={"ETag": f'"{reply.object.md5.hex()}"',
                                                 **_encryption_header(reply.object.encryption)})

    async def _upload_part_copy(self, request, bucket, key, query, signed, principal) -> web.Response:
        """A part made of (a range of) an existing object. Its bytes are read and stored again:
        a part's ETag is the MD5 of its own bytes, which only reading them gives."""
        headers = _lower(request.headers)
        header = object_pb2.PutObjectHeader(bucket=bucket, key=key, upload_id=query["uploadId"],
                                            part_number=_part_number(query.get("partNumber", "")))
        source_bucket, source_key, source_version = _copy_source(headers["x-amz-copy-source"])
        wanted = _parse_range(headers["x-amz-copy-source-range"]) if "x-amz-copy-source-range" in headers else None
        check = _copy_check(headers)

        def work() -> object_pb2.ObjectInfo:
            self._objects.allow("get", source_bucket, source_key)
            source, start, length, payload, _ = self._c.get_object(source_bucket, source_key, *(wanted or (None, None)),
                                                                   version=source_version)
            try:
                check(source)
            except S3Error:
                payload.close()
                raise
            header.size_bytes = length
            # A part put as a native client puts one (ObjectServicer.put): the upload's policy, its MD5.
            stream = [object_pb2.PutObjectRequest(header=header)]
            return self._objects.put(itertools.chain(stream, payload, [object_pb2.PutObjectRequest(
                end=object_pb2.PutObjectEnd(size_bytes=length))])).object

        try:
            part = await self._run(principal, work)
        except errors.OutOfRange as err:
            raise S3Error("InvalidRange", f"x-amz-copy-source-range is outside the source: {err}") from None
        return _xml(documents.copy_part_result(f'"{part.md5.hex()}"', part.created_at_unix_ms))

    async def _complete_multipart_upload(self, request, bucket, key, query, signed, principal) -> web.Response:
        headers = _lower(request.headers)
        _check_put_conditions(headers)
        listed = documents.parse_complete(await self._small_body(request, signed, "CompleteMultipartUpload"))
        upload_id = query["uploadId"]

        def work() -> common_pb2.Manifest:
            condition = self._c.condition_of(headers.get("if-match", "").strip(), "", "if-none-match" in headers)
            return self._objects.complete_upload(bucket, key, upload_id, listed, condition)

        manifest = await self._run(principal, work)
        location = f"/{bucket}/{urllib.parse.quote(key)}"
        response = _xml(documents.complete_upload(location, bucket, key, documents.etag_header(manifest)))
        response.headers.update(self._version_header(bucket, manifest.version_id))
        return response

    async def _abort_multipart_upload(self, request, bucket, key, query, signed, principal) -> web.Response:
        def work() -> None:
            self._objects.allow("put", bucket, key)
            self._c.uploads.abort(bucket, key, query["uploadId"])

        await self._run(principal, work)
        return web.Response(status=204)

    async def _list_parts(self, request, bucket, key, query, signed, principal) -> web.Response:
        upload_id = query["uploadId"]
        after = _part_number(query["part-number-marker"], allow_zero=True) if query.get("part-number-marker") else 0
        limit = _max_keys(query.get("max-parts"), "max-parts")

        def work():
            self._objects.allow("put", bucket, key)
            record = self._c.uploads.record(bucket, key, upload_id)
            parts, truncated = self._c.uploads.parts(bucket, key, upload_id, after=after, limit=limit)
            return record, parts, truncated

        record, parts, truncated = await self._run(principal, work)
        owner = getattr(principal, "tenant", "") or ""
        return _xml(documents.list_parts(bucket, key, upload_id, parts, after=after, limit=limit,
                                         truncated=truncated, owner_tenant=owner,
                                         encoding_type=query.get("encoding-type", "")))

    async def _list_multipart_uploads(self, request, bucket, key, query, signed, principal) -> web.Response:
        delimiter = query.get("delimiter", "")
        prefix = query.get("prefix", "")
        limit = _max_keys(query.get("max-uploads"), "max-uploads")
        key_marker = query.get("key-marker", "")
        upload_id_marker = query.get("upload-id-marker", "")

        def work():
            self._allow_bucket("list", bucket)
            return self._c.uploads.list(bucket, prefix=prefix, key_marker=key_marker,
                                        upload_id_marker=upload_id_marker, limit=limit)

        uploads, truncated = await self._run(principal, work)
        rolled: list[str] = []
        if delimiter:
            kept = []
            for entry in uploads:
                common = _common_prefix(entry[0], prefix, delimiter)
                if common is None:
                    kept.append(entry)
                elif not rolled or rolled[-1] != common:
                    rolled.append(common)
            uploads = kept
        owner = getattr(principal, "tenant", "") or ""
        return _xml(documents.list_uploads(bucket, uploads, common_prefixes=rolled, delimiter=delimiter,
                                           prefix=prefix, key_marker=key_marker,
                                           upload_id_marker=upload_id_marker, limit=limit, truncated=truncated,
                                           owner_tenant=owner, encoding_type=query.get("encoding-type", "")))

    async def _head_object(self, request, bucket, key, query, signed, principal) -> web.StreamResponse:
        return await self._get_object(request, bucket, key, query, signed, principal, head=True)

    async def _get_object(self, request, bucket, key, query, signed, principal, *, head: bool = False
                          ) -> web.StreamResponse:
        overrides = {RESPONSE_OVERRIDES[name]: value for name, value in query.items() if name in RESPONSE_OVERRIDES}
        if overrides and signed is None and self._lookup_key is not None:
            raise S3Error("InvalidRequest", "response-* overrides need a signed request (S3 refuses them to "
                                            "anonymous ones)")
        part = _part_number(query["partNumber"]) if "partNumber" in query else None
        wanted = None if part is not None else _parse_range(request.headers.get("range", ""))
        version = query.get("versionId", "")

        def described() -> common_pb2.Manifest:
            return self._c.version_with_data(bucket, key, version, instead="it has no bytes")

        def work():
            nonlocal wanted
            self._objects.allow("stat" if head else "get", bucket, key)
            if part is not None:
                wanted = _part_range(described(), part)
            if head:
                return described(), wanted[0] if wanted else 0, 0, iter(())
            start, length = wanted if wanted is not None else (None, None)
            if isinstance(principal, LinkHolder):
                if start is not None and start < 0:
                    size = self._c.current_manifest(bucket, key).size_bytes
                    start, length = max(0, size + start), None
                start, length = policy.link_range(start, length)
            try:
                manifest, start, length, payload, _ = self._c.get_object(bucket, key, start, length,
                                                                         chunk_reads=True, version=version)
            except errors.OutOfRange:
                size = described().size_bytes
                raise S3Error("InvalidRange", f"the range {request.headers.get('range')} is not satisfiable: the "
                                              f"object is {size} bytes", headers={"Content-Range": f"bytes */{size}"},
                              extra={"ActualObjectSize": str(size)}) from None
            return manifest, start, length, payload

        manifest, start, length, payload = await self._run(principal, work)
        try:
            _check_conditions(request.headers, manifest)
        except S3Error:
            getattr(payload, "close", lambda: None)()
            raise
        response_headers = _object_headers(manifest)
        response_headers.update(self._version_header(bucket, manifest.version_id))
        if manifest.tagging.tags:
            response_headers["x-amz-tagging-count"] = str(len(manifest.tagging.tags))
        response_headers.update(overrides)
        # A share link limited to part of its object answers that part even to a get that named no range.
        ranged = (wanted is not None and (not head or part is not None)) or (
            not head and (start, length) != (0, manifest.size_bytes))
        if head and part is not None:
            start, length = wanted[0], wanted[1]
        status = 206 if ranged else 200
        if ranged:
            response_headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{manifest.size_bytes}"
        if part is not None:
            response_headers["x-amz-mp-parts-count"] = str(manifest.part_count or 1)
        response_headers["x-amz-request-id"] = request["s3_request_id"]
        response = web.StreamResponse(status=status, headers=response_headers)
        response.content_length = length if ranged else manifest.size_bytes if head else length
        await response.prepare(request)
        request["s3_prepared"] = True
        if head:
            await response.write_eof()
            return response
        # Each chunk is read (and verified) on the node's chunk pool, the next ones ahead of it, while
        # the loop awaits it here: no worker thread stands between the reads and the socket.
        sent = 0
        try:
            for read in payload:
                for frame in slices(await asyncio.wrap_future(read), WRITE_BYTES):
                    await response.write(frame)
                    sent += len(frame)
        finally:
            payload.close()
            self._metrics.s3_bytes.labels("out").inc(sent)
        await response.write_eof()
        return response

    async def _delete_object(self, request, bucket, key, query, signed, principal) -> web.Response:
        version = query.get("versionId", "")

        def work() -> dict[str, str]:
            self._objects.allow("delete", bucket, key)
            record = self._c.bucket(bucket)
            try:
                written = self._c.delete_object(bucket, key, version, mark_absent=True)
            except (errors.NoSuchKey, errors.NoSuchVersion):
                return {}  # S3: deleting what is not there succeeds
            if written.erased:
                return {"x-amz-version-id": version}
            marker = _marker_id(written, record.versioning)
            return {"x-amz-version-id": marker, "x-amz-delete-marker": "true"} if marker else {}
        return web.Response(status=204, headers=await self._run(principal, work))

    def _version_header(self, bucket: str, version_id: bytes | str) -> dict[str, str]:
        """x-amz-version-id for a version (`version_id` raw, or as shown): its id; "null" for the
        null version of a bucket that has versioning, enabled or suspended; none for an unversioned
        bucket's, which S3 does not name. The bucket's record is the one the request's work just
        read (cached; never a network call here, on the event loop): should it have aged out of the
        cache meanwhile, a null version goes unnamed."""
        shown = version_id if isinstance(version_id, str) else show_version_id(version_id)
        if shown and shown != NULL_VERSION_ID:
            return {"x-amz-version-id": shown}
        record = self._c.cached_bucket(bucket)
        versioned = record is not None and record.versioning != common_pb2.VERSIONING_UNSPECIFIED
        return {"x-amz-version-id": NULL_VERSION_ID} if versioned else {}

    async def _not_implemented(self, request, bucket, key, query, signed, principal) -> web.Response:
        raise S3Error("NotImplemented", f"{request.method} {_describe(bucket, key, query)} is not implemented by "
                                        "this endpoint")


# -- what a request asks for ------------------------------------------------------------------------


def _operation(method: str, bucket: str, key: str, query: dict[str, str], headers) -> str:
    """The name of the handler for a request (`_<name>` of S3Gateway)."""
    subresources = {name for name in query if name not in OPTIONS}
    if not bucket:
        return "list_buckets" if method == "GET" and not subresources else "not_implemented"
    if not key:
        if subresources - BUCKET_SUBRESOURCES:
            return "not_implemented"
        table = {
            ("GET", frozenset()): "list_objects", ("GET", frozenset({"list-type"})): "list_objects",
            ("PUT", frozenset()): "create_bucket", ("DELETE", frozenset()): "delete_bucket",
            ("HEAD", frozenset()): "head_bucket", ("GET", frozenset({"location"})): "get_bucket_location",
            ("GET", frozenset({"acl"})): "get_bucket_acl", ("PUT", frozenset({"acl"})): "put_bucket_acl",
            ("GET", frozenset({"versioning"})): "get_bucket_versioning", ("POST", frozenset({"delete"})): "delete_objects",
            ("PUT", frozenset({"versioning"})): "put_bucket_versioning",
            ("PUT", frozenset({"lifecycle"})): "put_bucket_lifecycle", ("GET", frozenset({"lifecycle"})): "get_bucket_lifecycle",
            ("DELETE", frozenset({"lifecycle"})): "delete_bucket_lifecycle",
            ("PUT", frozenset({"tagging"})): "put_bucket_tagging", ("GET", frozenset({"tagging"})): "get_bucket_tagging",
            ("DELETE", frozenset({"tagging"})): "delete_bucket_tagging",
            ("PUT", frozenset({"encryption"})): "put_bucket_encryption",
            ("GET", frozenset({"encryption"})): "get_bucket_encryption",
            ("DELETE", frozenset({"encryption"})): "delete_bucket_encryption",
            ("GET", frozenset({"versions"})): "list_object_versions",
            ("GET", frozenset({"uploads"})): "list_multipart_uploads",
        }
        return table.get((method, frozenset(subresources)), "not_implemented")
    if subresources - OBJECT_SUBRESOURCES:
        return "not_implemented"
    multipart = {
        ("POST", frozenset({"uploads"})): "create_multipart_upload",
        ("PUT", frozenset({"partNumber", "uploadId"})): "upload_part",
        ("POST", frozenset({"uploadId"})): "complete_multipart_upload",
        ("DELETE", frozenset({"uploadId"})): "abort_multipart_upload",
        ("GET", frozenset({"uploadId"})): "list_parts",
        ("PUT", frozenset({"tagging"})): "put_object_tagging",
        ("GET", frozenset({"tagging"})): "get_object_tagging",
        ("DELETE", frozenset({"tagging"})): "delete_object_tagging",
    }
    if (method, frozenset(subresources)) in multipart:
        return multipart[(method, frozenset(subresources))]
    if subresources - {"partNumber"} or (subresources and method not in ("GET", "HEAD")):
        return "not_implemented"
    if method == "PUT" and "x-amz-copy-source" in headers:
        return "copy_object"
    table = {"PUT": "put_object", "GET": "get_object", "HEAD": "head_object", "DELETE": "delete_object"}
    return table.get(method, "not_implemented")


def _describe(bucket: str, key: str, query: dict[str, str]) -> str:
    subresources = sorted(name for name in query if name not in OPTIONS)
    what = "on the service" if not bucket else ("on an object" if key else "on a bucket")
    return (f"?{'&'.join(subresources)} " if subresources else "") + what


def _query(raw_query: str) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", "the query string is not UTF-8 once percent-decoded") from None
    return dict(pairs)


def _decode(raw: str) -> str:
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI", "the request path is not UTF-8 once percent-decoded", status=400) from None


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _check_bucket_name(bucket: str) -> None:
    if not validate.BUCKET_NAME_RE.match(bucket):
        raise S3Error("InvalidBucketName", f"bucket name {bucket[:70]!r} is invalid: use 3 to 63 characters of "
                                           "a-z, 0-9 and '-'")


def parse_redundancy(text: str) -> common_pb2.RedundancyPolicy:
    match = _POLICY_RE.match(text.strip())
    if match is None:
        raise S3Error("InvalidArgument", f"{REDUNDANCY_HEADER} {text[:40]!r} is not replicas=N or ec=K+M")
    if match.group(1):
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=int(match.group(1))))
    return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(
        data_shares=int(match.group(2)), parity_shares=int(match.group(3))))


def _put_header(bucket: str, key: str, headers: dict[str, str]) -> object_pb2.PutObjectHeader:
    """A put's header from the request's: type, user metadata, representation headers, policy."""
    header = object_pb2.PutObjectHeader(bucket=bucket, key=key, content_type=headers.get("content-type", ""))
    header.metadata.update(_user_metadata(headers))
    header.headers.update(_representation_headers(headers))
    redundancy = headers.get(REDUNDANCY_HEADER)
    if redundancy:
        header.policy.CopyFrom(parse_redundancy(redundancy))
    header.encryption = _parse_encryption(headers)
    return header


def _parse_encryption(headers: dict[str, str]) -> int:
    """A put's x-amz-server-side-encryption: AES256 encrypts at rest; aws:kms and customer keys
    (SSE-C) are NotImplemented; no header: as the bucket says."""
    if any(name.startswith("x-amz-server-side-encryption-customer-") for name in headers):
        raise S3Error("NotImplemented", "customer-provided keys (SSE-C) are not supported: use "
                                        "x-amz-server-side-encryption: AES256, or encrypt in the client")
    algorithm = headers.get("x-amz-server-side-encryption", "").strip()
    if not algorithm:
        return common_pb2.ENCRYPTION_UNSPECIFIED
    if algorithm.startswith("aws:kms"):
        raise S3Error("NotImplemented", f"x-amz-server-side-encryption: {algorithm} is not supported (there is no "
                                        "KMS): use AES256, which encrypts at rest under the cluster's keys")
    if algorithm != "AES256":
        raise S3Error("InvalidArgument", f"x-amz-server-side-encryption {algorithm[:40]!r} is not AES256")
    return common_pb2.ENCRYPTION_AES256_GCM


def _encryption_header(encryption: int) -> dict[str, str]:
    """x-amz-server-side-encryption for what a response describes."""
    return {"x-amz-server-side-encryption": "AES256"} if encryption == common_pb2.ENCRYPTION_AES256_GCM else {}


def _declared_size(headers: dict[str, str], chunked: bool) -> int:
    name = "x-amz-decoded-content-length" if chunked else "content-length"
    text = headers.get(name)
    if text is None:
        raise S3Error("MissingContentLength", f"a put needs its {name} header: send the object's size")
    if not text.isdigit():
        raise S3Error("InvalidArgument", f"{name} {text[:30]!r} is not a whole number of bytes")
    return int(text)


def _user_metadata(headers: dict[str, str]) -> dict[str, str]:
    return {name[len(META_PREFIX):]: value for name, value in headers.items()
            if name.startswith(META_PREFIX) and len(name) > len(META_PREFIX)}


def _representation_headers(headers: dict[str, str]) -> dict[str, str]:
    kept = {name: headers[name] for name in validate.HTTP_HEADER_NAMES if name in headers}
    if "content-encoding" in kept:
        # aws-chunked is how this request's body was framed, not how the object is encoded.
        codings = [c.strip() for c in kept["content-encoding"].split(",") if c.strip() and c.strip() != "aws-chunked"]
        if codings:
            kept["content-encoding"] = ",".join(codings)
        else:
            del kept["content-encoding"]
    return kept


def _object_headers(manifest: common_pb2.Manifest) -> CIMultiDict:
    headers = CIMultiDict({"ETag": documents.etag_header(manifest), "Last-Modified": documents.http_time(manifest.created_at_unix_ms),
               "Content-Type": manifest.content_type or DEFAULT_CONTENT_TYPE, "Accept-Ranges": "bytes"})
    for name, value in manifest.headers.items():
        headers[name] = value
    for name, value in manifest.metadata.items():
        headers[META_PREFIX + name] = value
    headers.update(_encryption_header(at_rest.object_encryption(manifest)))
    return headers


def _parse_range(text: str) -> tuple[int, int | None] | None:
    """(start, length or None) of a Range header; a suffix range is (-N, None); None for no range
    (or one this gateway answers with the whole object, as S3 does for several ranges)."""
    text = text.strip()
    if not text:
        return None
    match = _RANGE_RE.match(text)
    if match is None:
        return None  # S3 ignores a Range it cannot parse (several ranges, other units)
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise S3Error("InvalidRange", "the range bytes=-0 asks for no bytes")
        return -suffix, None
    start = int(first)
    if not last:
        return start, None
    end = int(last)
    if end < start:
        return None  # S3 ignores a syntactically invalid range
    return start, end - start + 1


def _copy_check(headers: dict[str, str]) -> Callable[[common_pb2.Manifest], None]:
    """The check of a copy's source against its x-amz-copy-source-if-* headers: an unmet one is 412
    whichever it is (a 304 too)."""
    conditions = {name.removeprefix("x-amz-copy-source-"): value for name, value in headers.items()
                  if name.startswith("x-amz-copy-source-if-")}

    def check(source: common_pb2.Manifest) -> None:
        try:
            _check_conditions(conditions, source)
        except S3Error as err:
            raise S3Error("PreconditionFailed", f"the copy source's {err.message}") from None

    return check


def _copy_source(text: str) -> tuple[str, str, str]:
    """(bucket, key, version id or "") of an x-amz-copy-source header: `/bucket/key` or `bucket/key`,
    URL-encoded, optionally `?versionId=ID`."""
    path, _, query = text.partition("?")
    version = ""
    if query:
        name, _, version = query.partition("=")
        if name != "versionId" or not version:
            raise S3Error("InvalidArgument", f"x-amz-copy-source {text[:80]!r}: the only option it takes is "
                                             "?versionId=ID")
    bucket, _, key = _decode(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", f"x-amz-copy-source {text[:80]!r} is not /BUCKET/KEY")
    return bucket, key, version


def _check_put_conditions(headers) -> None:
    """A put's or a completed upload's conditions, as S3 takes them: If-None-Match only as *, and
    not together with If-Match."""
    if headers.get("if-none-match", "*").strip() != "*":
        raise S3Error("NotImplemented", "a put's If-None-Match can only be * (store only if the key does not "
                                        "exist)")
    if "if-match" in headers and "if-none-match" in headers:
        raise S3Error("InvalidArgument", "give If-Match or If-None-Match, not both")


def _marker_id(written: common_pb2.Manifest, versioning: int) -> str:
    """The version id of the delete marker a delete wrote, as S3 reports it: its id, "null" for a
    suspended bucket's marker; "" when it wrote none (a permanent delete, or an unversioned bucket's
    tombstone)."""
    if not written.tombstone or written.erased:
        return ""
    if written.version_id:
        return show_version_id(written.version_id)
    return NULL_VERSION_ID if versioning != common_pb2.VERSIONING_UNSPECIFIED else ""


def _part_range(manifest: common_pb2.Manifest, part: int) -> tuple[int, int]:
    """(start, length) of part `part` of an object (an object put whole is its own part 1)."""
    sizes = list(manifest.part_sizes_bytes) or [manifest.size_bytes]
    if part > len(sizes):
        raise S3Error("InvalidPartNumber", f"part {part} does not exist: the object has {len(sizes)} "
                                           f"part{'s' if len(sizes) > 1 else ''}", status=416)
    return sum(sizes[:part - 1]), sizes[part - 1]


def _etags(text: str) -> list[str]:
    return [part.strip().removeprefix("W/").strip('"') for part in text.split(",") if part.strip()]


def _http_date(text: str):
    try:
        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _check_conditions(headers, manifest: common_pb2.Manifest) -> None:
    """If-Match, If-Unmodified-Since (412) and If-None-Match, If-Modified-Since (304), in RFC 7232's
    order, as S3 applies them."""
    tag = documents.etag(manifest)
    modified_s = manifest.created_at_unix_ms // 1000
    if_match = headers.get("if-match")
    if if_match is not None:
        if "*" not in _etags(if_match) and tag not in _etags(if_match):
            raise S3Error("PreconditionFailed", f"If-Match {if_match} does not match the object's ETag \"{tag}\"",
                          extra={"Condition": "If-Match"})
    else:
        since = _http_date(headers.get("if-unmodified-since", ""))
        if since is not None and modified_s > since:
            raise S3Error("PreconditionFailed", "the object was modified after If-Unmodified-Since",
                          extra={"Condition": "If-Unmodified-Since"})
    if_none = headers.get("if-none-match")
    if if_none is not None:
        if "*" in _etags(if_none) or tag in _etags(if_none):
            raise S3Error("NotModified", "not modified", headers={"ETag": f'"{tag}"'})
    else:
        since = _http_date(headers.get("if-modified-since", ""))
        if since is not None and modified_s <= since:
            raise S3Error("NotModified", "not modified", headers={"ETag": f'"{tag}"'})


def _max_keys(text: str | None, name: str = "max-keys") -> int:
    if text is None:
        return LIST_KEYS_MAX
    if not text.isdigit():
        raise S3Error("InvalidArgument", f"{name} {text[:20]!r} is not a whole number")
    return min(int(text), LIST_KEYS_MAX)


def _part_number(text: str, *, allow_zero: bool = False) -> int:
    if not text.isdigit() or not (0 if allow_zero else 1) <= int(text) <= uploads.PART_NUMBER_MAX:
        raise S3Error("InvalidArgument", f"part number {text[:20]!r} is not a whole number from 1 to "
                                         f"{uploads.PART_NUMBER_MAX}")
    return int(text)


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _past_prefix(after: str, prefix: str, delimiter: str) -> str:
    """Where a listing continues after `after`: past every key under it when `after` is itself a
    common prefix (a NextMarker or token that ended on one)."""
    if after and delimiter and _common_prefix(after, prefix, delimiter) == after:
        return after + _PAST_EVERYTHING
    return after


def _encode_token(after: str) -> str:
    return urllib.parse.quote(after, safe="")


def _decode_token(token: str) -> str:
    return _decode(token)


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml")


# -- node errors as S3's ----------------------------------------------------------------------------


def s3_error(err: errors.RingstoreError, *, key_context: bool) -> S3Error:
    """The S3 error for a node error: its code by kind, its message as the node worded it."""
    message = str(err)
    if isinstance(err, errors.NoSuchBucket):
        return S3Error("NoSuchBucket", message)
    if isinstance(err, errors.NoSuchKey):
        return S3Error("NoSuchKey", message)
    if isinstance(err, errors.NoSuchUpload):
        return S3Error("NoSuchUpload", message)
    if isinstance(err, errors.NoSuchVersion):
        return S3Error("NoSuchVersion", message)
    if isinstance(err, errors.ConditionFailed):
        return S3Error("PreconditionFailed", message)
    if isinstance(err, errors.VersionIsDeleteMarker):
        return S3Error("MethodNotAllowed", message, headers={"x-amz-delete-marker": "true"})
    if isinstance(err, errors.InvalidPart):
        return S3Error("InvalidPart", message)
    if isinstance(err, errors.InvalidPartOrder):
        return S3Error("InvalidPartOrder", message)
    if isinstance(err, errors.EntityTooSmall):
        return S3Error("EntityTooSmall", message)
    if isinstance(err, errors.NotFound):
        return S3Error("NoSuchKey" if key_context else "NoSuchBucket", message)
    if isinstance(err, errors.BucketNotEmpty):
        return S3Error("BucketNotEmpty", message)
    if isinstance(err, errors.QuotaExceeded):
        return S3Error("QuotaExceeded", message)
    if isinstance(err, errors.ResourceExhausted):
        if "limit" in message and "object" in message:
            return S3Error("EntityTooLarge", message)
        return S3Error("InsufficientStorage", message, status=507)
    if isinstance(err, (errors.PermissionDenied, errors.Unauthenticated)):
        return S3Error("AccessDenied", message)
    if isinstance(err, errors.OutOfRange):
        return S3Error("InvalidRange", message)
    if isinstance(err, errors.InvalidTag):
        return S3Error("InvalidTag", message)
    if isinstance(err, errors.InvalidArgument):
        if "key" in message and "bytes" in message and "limit" in message:
            return S3Error("KeyTooLongError", message)
        return S3Error("InvalidArgument", message)
    if isinstance(err, errors.AlreadyExists):
        return S3Error("BucketAlreadyExists", message)
    if isinstance(err, (errors.Unavailable, errors.Aborted)):
        return S3Error("ServiceUnavailable", message)
    if isinstance(err, errors.FailedPrecondition):
        return S3Error("InvalidRequest", message)
    if isinstance(err, errors.DataLoss):
        return S3Error("InternalError", message)
    return S3Error("InternalError", message)
