"""Typed errors with field-level details, turned into rich gRPC statuses by the interceptor.

Business code raises these; it never touches grpc. Clients read the details with
`grpc_status.rpc_status.from_call(error)` (google.rpc.BadRequest, PreconditionFailure,
ResourceInfo, RetryInfo).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2


@dataclass
class ServiceError(Exception):
    message: str
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def details(self) -> list[any_pb2.Any]:
        return []

    def to_status(self) -> status_pb2.Status:
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=self.details())


@dataclass
class InvalidArgument(ServiceError):
    """Malformed input; `violations` is a list of (field path, description)."""

    violations: list[tuple[str, str]] = field(default_factory=list)
    code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> list[any_pb2.Any]:
        br = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in self.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(br)
        return [packed]


@dataclass
class FailedPrecondition(ServiceError):
    """A rule of the hall is not met; `violations` is a list of (type, subject, description)."""

    violations: list[tuple[str, str, str]] = field(default_factory=list)
    code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION

    def details(self) -> list[any_pb2.Any]:
        pf = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(type=t, subject=s, description=d)
                for t, s, d in self.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(pf)
        return [packed]


@dataclass
class NotFound(ServiceError):
    resource_type: str = ""
    resource_name: str = ""
    code: grpc.StatusCode = grpc.StatusCode.NOT_FOUND

    def details(self) -> list[any_pb2.Any]:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.ResourceInfo(resource_type=self.resource_type, resource_name=self.resource_name))
        return [packed]


@dataclass
class PermissionDenied(ServiceError):
    """The caller may not do this (a role it does not hold, another department's business)."""

    reason: str = ""
    domain: str = "hall.v1"
    code: grpc.StatusCode = grpc.StatusCode.PERMISSION_DENIED

    def details(self) -> list[any_pb2.Any]:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=self.domain))
        return [packed]


@dataclass
class Unavailable(ServiceError):
    """The service will not take this now and will again by itself (`retry_after_s`); `zh` is
    what the clerk reads."""

    zh: str = "服务暂不可用，请稍后再试"
    reason: str = "UNAVAILABLE"
    retry_after_s: float = 5.0
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE

    def details(self) -> list[any_pb2.Any]:
        retry, info, text = any_pb2.Any(), any_pb2.Any(), any_pb2.Any()
        delay = error_details_pb2.RetryInfo()
        delay.retry_delay.FromMilliseconds(int(self.retry_after_s * 1000))
        retry.Pack(delay)
        info.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain="hall.v1"))
        text.Pack(error_details_pb2.LocalizedMessage(locale="zh-CN", message=self.zh))
        return [retry, info, text]


@dataclass
class Unauthenticated(ServiceError):
    """The caller has not proven who it is (no token, or one that is expired or not the hall's);
    `zh` is what the person at the counter reads."""

    reason: str = "TOKEN_MISSING"
    zh: str = "请先登录"
    code: grpc.StatusCode = grpc.StatusCode.UNAUTHENTICATED

    def details(self) -> list[any_pb2.Any]:
        info, text = any_pb2.Any(), any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain="hall.v1"))
        text.Pack(error_details_pb2.LocalizedMessage(locale="zh-CN", message=self.zh))
        return [info, text]


@dataclass
class ResourceExhausted(ServiceError):
    """A limit of the service is reached; `retry_after_s` tells the client when to try again."""

    retry_after_s: float = 1.0
    code: grpc.StatusCode = grpc.StatusCode.RESOURCE_EXHAUSTED

    def details(self) -> list[any_pb2.Any]:
        info = error_details_pb2.RetryInfo()
        info.retry_delay.FromMilliseconds(int(self.retry_after_s * 1000))
        packed = any_pb2.Any()
        packed.Pack(info)
        return [packed]


assert grpc.StatusCode.INVALID_ARGUMENT.value[0] == code_pb2.INVALID_ARGUMENT


@dataclass
class IncompleteApplication(ServiceError):
    """An application refused with everything wrong at once (一次性告知): malformed fields
    (`violations`: field path, description) and missing materials (`missing`: type, subject,
    description) in one answer, with the stored notice's id. INVALID_ARGUMENT when a field is
    malformed, else FAILED_PRECONDITION."""

    violations: list[tuple[str, str]] = field(default_factory=list)
    missing: list[tuple[str, str, str]] = field(default_factory=list)
    notice_id: str = ""
    code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT

    def __post_init__(self) -> None:
        if not self.violations:
            self.code = grpc.StatusCode.FAILED_PRECONDITION

    def details(self) -> list[any_pb2.Any]:
        packed = []
        if self.violations:
            packed += InvalidArgument(self.message, violations=self.violations).details()
        if self.missing:
            packed += FailedPrecondition(self.message, violations=self.missing).details()
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason="INCOMPLETE_APPLICATION", domain="hall.v1",
                                              metadata={"notice_id": self.notice_id} if self.notice_id else {}))
        text = any_pb2.Any()
        text.Pack(error_details_pb2.LocalizedMessage(locale="zh-CN", message=self.message))
        return [*packed, info, text]
