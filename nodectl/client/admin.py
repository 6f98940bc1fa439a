"""Tenants and access keys (operator calls of `Client`): create, list and remove tenants; create,
list and revoke their keys; set quotas. A new key's secret is in the `create_key` answer only: nothing else ever
returns it. Creates and revokes are not retried (a lost answer would make a second tenant or key
look like a conflict, or a second key); listings are."""

from __future__ import annotations

from ringstore.auth.keys import parse_duration
from ringstore.v1 import admin_pb2

from nodectl.client.connection import _Connection
from nodectl.client.from_pb import quota_from_pb
from nodectl.client.results import AccessKeyInfo, NewKey, Quota, RewrapResult, Tenant
from nodectl.client.validate import validate_bucket
from nodectl.errors import InvalidArgument


def _key_info(pb: admin_pb2.AccessKeyInfo) -> AccessKeyInfo:
    return AccessKeyInfo(key_id=pb.key_id, tenant=pb.tenant, role=pb.role, state=pb.state,
                         created_at_unix_ms=pb.created_at_unix_ms, expires_at_unix_ms=pb.expires_at_unix_ms,
                         revoked_at_unix_ms=pb.revoked_at_unix_ms, read_only=pb.read_only, bucket=pb.bucket,
                         prefix=pb.prefix, description=pb.description)


class _AdminCalls(_Connection):
    """Tenants and their access keys (the operator's key only)."""

    def create_tenant(self, name: str, *, description: str = "") -> Tenant:
        pb = self._unary(self._admin.CreateTenant, admin_pb2.CreateTenantRequest(name=name, description=description),
                         replayable=False)
        return Tenant(name=pb.name, created_at_unix_ms=pb.created_at_unix_ms, description=pb.description)

    def list_tenants(self) -> list[Tenant]:
        pb = self._unary(self._admin.ListTenants, admin_pb2.ListTenantsRequest())
        return [Tenant(name=t.name, created_at_unix_ms=t.created_at_unix_ms, description=t.description)
                for t in pb.tenants]

    def delete_tenant(self, name: str) -> int:
        """Remove a tenant that owns no bucket; returns how many of its keys were revoked."""
        pb = self._unary(self._admin.DeleteTenant, admin_pb2.DeleteTenantRequest(name=name), replayable=False)
        return pb.keys_revoked

    def create_key(self, tenant: str, *, read_only: bool = False, bucket: str = "", prefix: str = "",
                   expires_in: str | float | None = None, description: str = "") -> NewKey:
        """A new key of `tenant`, with optional scopes and lifetime (seconds, or text like "7d")."""
        if isinstance(expires_in, str):
            try:
                expires_in = parse_duration(expires_in)
            except ValueError as err:
                raise InvalidArgument(str(err)) from None
        request = admin_pb2.CreateKeyRequest(tenant=tenant, read_only=read_only, bucket=bucket, prefix=prefix,
                                             expires_in_s=float(expires_in or 0), description=description)
        pb = self._unary(self._admin.CreateKey, request, replayable=False)
        return NewKey(key=_key_info(pb.key), secret=pb.secret)

    def list_keys(self, tenant: str = "") -> list[AccessKeyInfo]:
        pb = self._unary(self._admin.ListKeys, admin_pb2.ListKeysRequest(tenant=tenant))
        return [_key_info(k) for k in pb.keys]

    def revoke_key(self, key_id: str) -> AccessKeyInfo:
        return _key_info(self._unary(self._admin.RevokeKey, admin_pb2.RevokeKeyRequest(key_id=key_id)))

    def rewrap_data_keys(self, *, dry_run: bool = False) -> RewrapResult:
        """Wrap every tenant's data key (encryption at rest) under the connected node's primary master
        key; no chunk is rewritten. Safe to repeat. Operator only."""
        pb = self._unary(self._admin.RewrapDataKeys, admin_pb2.RewrapDataKeysRequest(dry_run=dry_run))
        return RewrapResult(primary_master_key_id=pb.primary_master_key_id, data_keys=pb.data_keys,
                            rewrapped=pb.rewrapped, already_current=pb.already_current)

    def set_quota(self, *, tenant: str = "", bucket: str = "", bytes: int = 0, objects: int = 0) -> Quota:
        """Set the quota of `tenant` (all its buckets together) or of `bucket`: logical bytes and
        current objects, 0 for no limit (both 0 clears it). In force on every node within a few
        seconds. Operator only."""
        if bool(tenant) == bool(bucket):
            raise InvalidArgument("name exactly one of tenant and bucket")
        for what, value in (("bytes", bytes), ("objects", objects)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"{what} must be an integer >= 0 (0: no limit), got {value!r}")
        if bucket:
            validate_bucket(bucket)
        pb = self._unary(self._admin.SetQuota, admin_pb2.SetQuotaRequest(tenant=tenant, bucket=bucket, bytes=bytes,
                                                                          objects=objects))
        return quota_from_pb(pb.quota)
