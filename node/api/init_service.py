"""AdminService.InitCluster: the cluster's first operator key, for whoever holds the cluster key.

Registered as a second handler of the AdminService name, so the request-auth interceptor can let
this one method through without an access key (ringstore/auth/bootstrap.py says why that is safe).
"""

from __future__ import annotations

import grpc

from node import errors
from node.api.status import unary, unary_method
from node.auth.store import DESCRIPTION_CHARS_MAX, OPERATOR_TENANT, CredentialStore
from ringstore.auth import bootstrap
from ringstore.auth.keys import ROLE_OPERATOR, AccessKey, SecretBox, is_key_id, new_access_key
from ringstore.v1 import admin_pb2

SERVICE = "ringstore.v1.AdminService"
SECRET_LENGTH_MIN = 20


class InitServicer:
    def __init__(self, *, store: CredentialStore, box: SecretBox, cluster_key: bytes, wall_ms) -> None:
        self._store = store
        self._box = box
        self._cluster_key = cluster_key
        self._wall_ms = wall_ms

    @unary
    def InitCluster(self, request: admin_pb2.InitClusterRequest, context) -> admin_pb2.InitClusterResponse:
        reason = bootstrap.check_init_mac(self._cluster_key, request.date_ms, request.key_id, request.mac,
                                          now_ms=self._wall_ms())
        if reason:
            raise errors.Unauthenticated(f"InitCluster refused: {reason}")
        if bool(request.key_id) != bool(request.secret):
            raise errors.InvalidArgument("give both key_id and secret, or neither (the node then makes them)")
        if request.key_id and not is_key_id(request.key_id):
            raise errors.InvalidArgument(f"key id {request.key_id!r} is not an access key id (RK and 18 of A-Z, 2-7)")
        if request.secret and len(request.secret) < SECRET_LENGTH_MIN:
            raise errors.InvalidArgument(f"the secret is {len(request.secret)} characters; give at least "
                                         f"{SECRET_LENGTH_MIN}")
        if len(request.description) > DESCRIPTION_CHARS_MAX:
            raise errors.InvalidArgument(f"description is {len(request.description)} characters; at most "
                                         f"{DESCRIPTION_CHARS_MAX}")
        self._store.ensure_bucket()
        now_ms = self._wall_ms()
        operators = [k for k in self._store.keys() if k.role == ROLE_OPERATOR and k.state(now_ms) == "active"]
        if operators:
            if request.key_id and any(k.key_id == request.key_id for k in operators):
                return admin_pb2.InitClusterResponse(key_id=request.key_id, created=False)
            raise errors.AlreadyExists(
                f"the cluster is initialised already (operator key {operators[0].key_id}); use that key")
        key_id, secret = (request.key_id, request.secret) if request.key_id else new_access_key()
        record = AccessKey(key_id=key_id, tenant=OPERATOR_TENANT, sealed_secret=self._box.seal(key_id, secret),
                           created_at_unix_ms=now_ms, expires_at_unix_ms=0, revoked_at_unix_ms=0, read_only=False,
                           bucket="", prefix="", role=ROLE_OPERATOR,
                           description=request.description or "operator key made by InitCluster")
        self._store.put_key(record)
        return admin_pb2.InitClusterResponse(key_id=key_id, secret="" if request.key_id else secret, created=True)

    def handlers(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(SERVICE, {
            "InitCluster": unary_method(self.InitCluster, admin_pb2.InitClusterRequest)})
