"""AdminService calls for tenants and their access keys (operator only: the client port's
interceptor refuses every AdminService call from a tenant's key before it gets here).

A key's secret leaves the cluster once, in the CreateKey answer; listings show ids, scopes and
states, never a secret. Revoking rewrites the key's record with the time; every node refuses the
key within the credential cache's lifetime (node/auth/store.py). Removing a tenant that still owns
a bucket is refused (its data would have no owner); its keys are revoked with it, and its quota
removed. SetQuota writes a tenant's or a bucket's quota record (node/quota/ enforces them).
"""

from __future__ import annotations

import dataclasses
import math

import grpc

from node import errors
from node.api.status import unary, unary_method
from node.auth.store import DESCRIPTION_CHARS_MAX, OPERATOR_TENANT, CredentialStore, QuotaRecord, Tenant
from ringstore.auth.keys import ROLE_TENANT, AccessKey, SecretBox, check_tenant_name, is_key_id, new_access_key
from ringstore.v1 import admin_pb2, common_pb2

SERVICE = "ringstore.v1.AdminService"
# Tenant names no one may create: operator keys are filed under the first.
RESERVED_TENANTS = frozenset({OPERATOR_TENANT, "system"})
PREFIX_CHARS_MAX = 1024
EXPIRES_IN_S_MAX = 3650 * 86400.0
# Largest quota (bytes or objects) accepted: 2^62, far above anything a cluster holds, and safe in
# every signed 64-bit sum the counters meet.
QUOTA_VALUE_MAX = 1 << 62


def key_info(record: AccessKey, now_ms: int) -> admin_pb2.AccessKeyInfo:
    return admin_pb2.AccessKeyInfo(
        key_id=record.key_id, tenant=record.tenant, role=record.role, state=record.state(now_ms),
        created_at_unix_ms=record.created_at_unix_ms, expires_at_unix_ms=record.expires_at_unix_ms,
        revoked_at_unix_ms=record.revoked_at_unix_ms, read_only=record.read_only, bucket=record.bucket,
        prefix=record.prefix, description=record.description)


class CredentialsServicer:
    def __init__(self, *, store: CredentialStore, box: SecretBox, wall_ms, buckets_of, bucket_of=None,
                 data_keys=None) -> None:
        self._store = store
        # The tenants' data keys for encryption at rest (node/objects/at_rest.py), for RewrapDataKeys.
        self._data_keys = data_keys
        # bucket_of(name) -> its live BucketRecord, or NotFound.
        self._bucket_of = bucket_of
        self._box = box
        self._wall_ms = wall_ms
        # buckets_of(tenant) -> names of the live buckets it owns.
        self._buckets_of = buckets_of

    def _check_description(self, text: str) -> None:
        if len(text) > DESCRIPTION_CHARS_MAX:
            raise errors.InvalidArgument(f"description is {len(text)} characters; at most {DESCRIPTION_CHARS_MAX}")

    def _existing_tenant(self, name: str) -> Tenant:
        tenant = self._store.tenant(name)
        if tenant is None:
            raise errors.NotFound(f"tenant {name!r} does not exist; `nodectl admin tenant ls` lists them")
        return tenant

    @unary
    def CreateTenant(self, request: admin_pb2.CreateTenantRequest, context) -> admin_pb2.Tenant:
        try:
            check_tenant_name(request.name)
        except ValueError as err:
            raise errors.InvalidArgument(str(err)) from None
        if request.name in RESERVED_TENANTS:
            raise errors.InvalidArgument(f"tenant name {request.name!r} is reserved; choose another")
        self._check_description(request.description)
        if self._store.tenant(request.name) is not None:
            raise errors.AlreadyExists(f"tenant {request.name!r} exists already")
        tenant = Tenant(name=request.name, created_at_unix_ms=self._wall_ms(), description=request.description)
        self._store.put_tenant(tenant)
        return admin_pb2.Tenant(name=tenant.name, created_at_unix_ms=tenant.created_at_unix_ms,
                                description=tenant.description)

    @unary
    def ListTenants(self, request, context) -> admin_pb2.ListTenantsResponse:
        return admin_pb2.ListTenantsResponse(tenants=[
            admin_pb2.Tenant(name=t.name, created_at_unix_ms=t.created_at_unix_ms, description=t.description)
            for t in self._store.tenants()])

    @unary
    def DeleteTenant(self, request: admin_pb2.DeleteTenantRequest, context) -> admin_pb2.DeleteTenantResponse:
        self._existing_tenant(request.name)
        owned = self._buckets_of(request.name)
        if owned:
            raise errors.FailedPrecondition(
                f"tenant {request.name!r} owns {len(owned)} bucket(s) ({', '.join(sorted(owned)[:5])}); empty and "
                "remove them first")
        revoked = 0
        now_ms = self._wall_ms()
        for record in self._store.keys():
            if record.tenant == request.name and not record.revoked_at_unix_ms:
                self._store.put_key(dataclasses.replace(record, revoked_at_unix_ms=now_ms))
                revoked += 1
        self._store.put_quota(QuotaRecord(kind="tenant", name=request.name))
        self._store.delete_tenant(request.name)
        return admin_pb2.DeleteTenantResponse(keys_revoked=revoked)

    @unary
    def CreateKey(self, request: admin_pb2.CreateKeyRequest, context) -> admin_pb2.CreateKeyResponse:
        self._existing_tenant(request.tenant)
        self._check_description(request.description)
        if len(request.prefix) > PREFIX_CHARS_MAX:
            raise errors.InvalidArgument(f"prefix is {len(request.prefix)} characters; at most {PREFIX_CHARS_MAX}")
        if not (math.isfinite(request.expires_in_s) and 0 <= request.expires_in_s <= EXPIRES_IN_S_MAX):
            raise errors.InvalidArgument(f"expires_in_s must be in 0..{EXPIRES_IN_S_MAX:.0f} (0: never), got "
                                         f"{request.expires_in_s!r}")
        now_ms = self._wall_ms()
        key_id, secret = new_access_key()
        try:
            record = AccessKey(
                key_id=key_id, tenant=request.tenant, sealed_secret=self._box.seal(key_id, secret),
                created_at_unix_ms=now_ms,
                expires_at_unix_ms=now_ms + int(request.expires_in_s * 1000) if request.expires_in_s else 0,
                read_only=request.read_only, bucket=request.bucket, prefix=request.prefix, role=ROLE_TENANT,
                description=request.description)
        except ValueError as err:
            raise errors.InvalidArgument(str(err)) from None
        self._store.put_key(record)
        return admin_pb2.CreateKeyResponse(key=key_info(record, now_ms), secret=secret)

    @unary
    def ListKeys(self, request: admin_pb2.ListKeysRequest, context) -> admin_pb2.ListKeysResponse:
        now_ms = self._wall_ms()
        records = [r for r in self._store.keys() if not request.tenant or r.tenant == request.tenant]
        records.sort(key=lambda r: (r.tenant, r.key_id))
        return admin_pb2.ListKeysResponse(keys=[key_info(r, now_ms) for r in records])

    @unary
    def RevokeKey(self, request: admin_pb2.RevokeKeyRequest, context) -> admin_pb2.AccessKeyInfo:
        if not is_key_id(request.key_id):
            raise errors.InvalidArgument(f"{request.key_id!r} is not an access key id (RK and 18 of A-Z, 2-7)")
        record = self._store.key(request.key_id, fresh=True)
        if record is None:
            raise errors.NotFound(f"access key {request.key_id} does not exist; `nodectl admin key ls` lists them")
        now_ms = self._wall_ms()
        if not record.revoked_at_unix_ms:
            record = dataclasses.replace(record, revoked_at_unix_ms=now_ms)
            self._store.put_key(record)
        return key_info(record, now_ms)

    @unary
    def SetQuota(self, request: admin_pb2.SetQuotaRequest, context) -> admin_pb2.SetQuotaResponse:
        if bool(request.tenant) == bool(request.bucket):
            raise errors.InvalidArgument("name exactly one of tenant and bucket to set a quota on")
        for what, value in (("bytes", request.bytes), ("objects", request.objects)):
            if value > QUOTA_VALUE_MAX:
                raise errors.InvalidArgument(f"a quota of {value} {what} is more than {QUOTA_VALUE_MAX}; give 0 for "
                                             "no limit")
        if request.tenant:
            self._existing_tenant(request.tenant)
            record = QuotaRecord(kind="tenant", name=request.tenant, bytes=request.bytes, objects=request.objects)
        else:
            bucket = self._bucket_of(request.bucket)
            record = QuotaRecord(kind="bucket", name=request.bucket, bytes=request.bytes, objects=request.objects,
                                 bucket_created_at_unix_ms=bucket.created_at_unix_ms)
        self._store.put_quota(record)
        return admin_pb2.SetQuotaResponse(quota=common_pb2.Quota(bytes=record.bytes, objects=record.objects))

    @unary
    def RewrapDataKeys(self, request: admin_pb2.RewrapDataKeysRequest, context) -> admin_pb2.RewrapDataKeysResponse:
        if self._data_keys is None:
            raise errors.FailedPrecondition("this node keeps no data keys")
        primary, total, rewrapped, current = self._data_keys.rewrap(dry_run=request.dry_run)
        return admin_pb2.RewrapDataKeysResponse(primary_master_key_id=primary, data_keys=total, rewrapped=rewrapped,
                                                already_current=current)

    def handlers(self) -> grpc.GenericRpcHandler:
        a = admin_pb2
        return grpc.method_handlers_generic_handler(SERVICE, {
            "CreateTenant": unary_method(self.CreateTenant, a.CreateTenantRequest),
            "ListTenants": unary_method(self.ListTenants, a.ListTenantsRequest),
            "DeleteTenant": unary_method(self.DeleteTenant, a.DeleteTenantRequest),
            "CreateKey": unary_method(self.CreateKey, a.CreateKeyRequest),
            "ListKeys": unary_method(self.ListKeys, a.ListKeysRequest),
            "RevokeKey": unary_method(self.RevokeKey, a.RevokeKeyRequest),
            "SetQuota": unary_method(self.SetQuota, a.SetQuotaRequest),
            "RewrapDataKeys": unary_method(self.RewrapDataKeys, a.RewrapDataKeysRequest),
        })
