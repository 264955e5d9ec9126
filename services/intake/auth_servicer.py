"""The hall's sign-in (AuthService, hall.v1/auth.proto), served by intake: the only process that
holds the private key tokens are signed with (HALL_AUTH_SIGNING_KEY)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import timestamp_pb2

from hall.v1 import auth_pb2, auth_pb2_grpc
from services.intake.staff import Staff
from services.runtime import auth, context
from services.runtime.errors import InvalidArgument, Unauthenticated


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, staff: Staff, issuer: auth.Issuer, ttl: dt.timedelta) -> None:
        self._staff = staff
        self._issuer = issuer
        self._ttl = ttl

    def Login(self, request: auth_pb2.LoginRequest, context_: Any) -> auth_pb2.LoginResponse:
        violations = [(f, d) for f, d, v in (("staff_id", "必须填写工号", request.staff_id),
                                             ("password", "必须填写密码", request.password)) if not v]
        if violations:
            raise InvalidArgument("staff_id and password are required", violations=violations)
        principal = self._staff.sign_in(request.staff_id, request.password)
        if principal is None:
            raise Unauthenticated(f"sign-in refused for {request.staff_id}", reason="SIGN_IN_REFUSED",
                                  zh="工号或密码错误（连续错误5次将锁定5分钟）")
        context.bind(actor_id=principal.subject)  # the sign-in's audit record names who signed in
        token, expires = self._issuer.issue(principal, self._ttl)
        at = timestamp_pb2.Timestamp()
        at.FromDatetime(expires.astimezone(dt.UTC).replace(tzinfo=None))
        return auth_pb2.LoginResponse(token=token, expires_at=at, principal=principal.to_proto())

    def WhoAmI(self, request: auth_pb2.WhoAmIRequest, context_: Any) -> auth_pb2.WhoAmIResponse:
        principal = auth.current()
        assert principal is not None  # the interceptor refused a call without one
        return auth_pb2.WhoAmIResponse(principal=principal.to_proto())
