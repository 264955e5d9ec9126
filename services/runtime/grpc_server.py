"""gRPC server bootstrap: health, reflection, context and audit interceptor, graceful SIGTERM.

This module imports grpcio; it must never be imported in a process that runs eventlet.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from hall.v1 import audit_pb2
from services.runtime import auth, context, metrics, tls
from services.runtime.audit_emitter import AuditEmitter
from services.runtime.errors import ServiceError

log = structlog.get_logger(__name__)


# The cases a unary call served besides the one in its metadata (see `served_case`).
_SERVED: contextvars.ContextVar[list[tuple[str, str, str]] | None] = contextvars.ContextVar("served", default=None)


def served_case(case_id: str, actor_id: str = "", outcome: str = "OK") -> None:
    """Called by a servicer inside a unary call that works for several cases at once (a batched
    lookup): the call's audit record is repeated in `case_id`'s timeline, with this outcome, so
    an inspector reading one case sees it as if the call had been made for that case alone."""
    served = _SERVED.get()
    if served is None:
        raise RuntimeError("served_case() is for servicers inside a call")
    served.append((case_id, actor_id, outcome))


def _metadata(ctx: grpc.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (ctx.invocation_metadata() or ()) if isinstance(v, str)}


class ContextInterceptor(grpc.ServerInterceptor):
    """Verifies the caller and enforces the RPC's access rule (services/runtime/auth.py), binds
    the case id from metadata and the verified caller as the actor, turns ServiceError into rich
    statuses, records calls (refused ones too)."""

    def __init__(self, audit: AuditEmitter | None, service: str = "", *, verifier: auth.Verifier | None = None,
                 desk: str = "") -> None:
        self._audit = audit
        self._service = service or (audit.service if audit is not None else "")
        self._verifier = verifier or auth.Verifier()
        self._desk = desk  # the department whose desk this server is (DepartmentDeskService)

    def intercept_service(self, continuation: Callable[..., Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        if method.startswith("/grpc.health") or method.startswith("/grpc.reflection"):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _begin(self, ctx: grpc.ServicerContext) -> tuple[dict[str, str], auth.Principal | None, Exception | None]:
        """The call's bound context and its verified caller (or why it has none). The actor is
        the verified identity; a service calling for a person may name them in x-actor-id."""
        md = _metadata(ctx)
        principal: auth.Principal | None = None
        failure: Exception | None = None
        try:
            principal = auth.authenticate(ctx, md, self._verifier)
        except ServiceError as err:
            failure = err
        actor = principal.subject if principal is not None else ""
        if principal is not None and principal.role == auth.Role.ROLE_SERVICE:
            actor = md.get(context.ACTOR_HEADER, "") or actor
        return {"case_id": md.get(context.CASE_HEADER, ""), "actor_id": actor}, principal, failure

    def _authorize(self, method: str, request: Any, principal: auth.Principal | None,
                   failure: Exception | None) -> None:
        if failure is not None:
            raise failure
        auth.authorize(method, request, principal, desk=self._desk)

    def _finish(self, method: str, ctx: grpc.ServicerContext, wall: float, start: float, exc: BaseException | None,
                served: list[tuple[str, str, str]] | None = None) -> None:
        code = ctx.code() if hasattr(ctx, "code") else None  # set by abort / set_code
        if exc is not None and code is None:
            code = grpc.StatusCode.INTERNAL
        name = (code or grpc.StatusCode.OK).name
        duration = time.monotonic() - start
        log.info("grpc call", method=method, code=name, duration_ms=round(duration * 1000, 2))
        metrics.grpc_call(self._service, method, name, duration)
        if self._audit is not None:
            self._audit.record(
                kind=audit_pb2.CallRecord.KIND_GRPC, operation=method, started_wall=wall,
                duration_s=duration, outcome=name, detail=(ctx.details() or "") if hasattr(ctx, "details") else "",
            )
            for case_id, actor_id, outcome in served or ():
                self._audit.record(kind=audit_pb2.CallRecord.KIND_GRPC, operation=method, started_wall=wall,
                                   duration_s=duration, outcome=outcome if name == "OK" else name,
                                   case_id=case_id, actor_id=actor_id)

    def _abort(self, ctx: grpc.ServicerContext, error: ServiceError) -> None:
        ctx.abort_with_status(rpc_status.to_status(error.to_status()))

    def _guard(self, ctx: grpc.ServicerContext, method: str, exc: BaseException) -> None:
        """Turn an exception into a status: typed errors keep their details, others say INTERNAL."""
        if isinstance(exc, ServiceError):
            self._abort(ctx, exc)
        if ctx.code() is None:  # type: ignore[attr-defined]
            ref = uuid.uuid4().hex[:12]
            log.exception("unhandled error", method=method, reference=ref)
            ctx.abort(grpc.StatusCode.INTERNAL, f"internal error (reference {ref})")
        raise exc

    def _wrap_unary(self, fn: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable[..., Any]:
        def wrapper(request: Any, ctx: grpc.ServicerContext) -> Any:
            wall, start = time.time(), time.monotonic()
            exc: BaseException | None = None
            served: list[tuple[str, str, str]] = []
            token = _SERVED.set(served)
            bound, principal, failure = self._begin(ctx)
            caller = auth.bind(principal)
            with context.scope(**bound):
                try:
                    try:
                        self._authorize(method, request, principal, failure)
                        return fn(request, ctx)
                    except Exception as err:  # noqa: BLE001
                        self._guard(ctx, method, err)
                except BaseException as e:
                    exc = e
                    raise
                finally:
                    _SERVED.reset(token)
                    auth.unbind(caller)
                    self._finish(method, ctx, wall, start, exc, served)

        return wrapper

    def _wrap_stream(self, fn: Callable[[Any, grpc.ServicerContext], Iterable[Any]], method: str) -> Callable[..., Any]:
        def wrapper(request: Any, ctx: grpc.ServicerContext) -> Iterator[Any]:
            wall, start = time.time(), time.monotonic()
            exc: BaseException | None = None
            bound, principal, failure = self._begin(ctx)
            try:
                with context.scope(**bound):
                    caller = auth.bind(principal)
                    try:
                        self._authorize(method, request, principal, failure)
                        yield from fn(request, ctx)
                    except Exception as err:  # noqa: BLE001
                        self._guard(ctx, method, err)
                    finally:
                        auth.unbind(caller)
            except BaseException as e:
                exc = e
                raise
            finally:
                with context.scope(**bound):
                    self._finish(method, ctx, wall, start, exc)

        return wrapper


class GrpcServer:
    """A started gRPC server with health and reflection, stopped gracefully on SIGTERM/SIGINT."""

    def __init__(
        self,
        port: int,
        register: Callable[[grpc.Server], list[str]],
        *,
        audit: AuditEmitter | None,
        max_workers: int = 32,
        grace_s: float = 5.0,
        service: str = "",
        desk: str = "",
    ) -> None:
        self._grace_s = grace_s
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
            interceptors=[ContextInterceptor(audit, service, desk=desk)],
            options=[("grpc.so_reuseport", 0)],
        )
        names = register(self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        files = tls.configured()
        self.tls = files is not None
        self.port = (self.server.add_secure_port(f"[::]:{port}", tls.server_credentials(files)) if files
                     else self.server.add_insecure_port(f"[::]:{port}"))
        # Under mutual TLS the kubelet's gRPC probe (plaintext, no certificate) cannot reach the
        # health service: it answers on a plaintext port of its own as well, with nothing else.
        self._health_server: grpc.Server | None = None
        health_port = int(os.environ.get("GRPC_HEALTH_PORT") or 0)
        if files is not None and health_port:
            self._health_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="health"))
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
            if self._health_server.add_insecure_port(f"[::]:{health_port}") == 0:
                raise RuntimeError(f"cannot bind the health port {health_port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC port {port}")
        self._names = names
        self._stopped = threading.Event()

    def start(self) -> None:
        metrics.serve()
        self.server.start()
        if self._health_server is not None:
            self._health_server.start()
        for name in ["", *self._names]:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc serving", port=self.port, services=self._names, tls="mutual" if self.tls else "off")

    def stop(self) -> None:
        """Report NOT_SERVING, let in-flight calls finish within the grace period, then stop."""
        if self._stopped.is_set():
            return
        self.health.enter_graceful_shutdown()
        self.server.stop(self._grace_s).wait()
        if self._health_server is not None:
            self._health_server.stop(0)
        self._stopped.set()


def add_servicer(server: grpc.Server, servicer: Any, grpc_module: Any) -> str:
    """Register `servicer` (a subclass of a generated `<Name>Servicer`) and return the service's
    full name, for health and reflection: add_servicer(server, IntakeServicer(...), intake_pb2_grpc)."""
    base = next(c for c in type(servicer).__mro__
                if c.__module__ == grpc_module.__name__ and c.__name__.endswith("Servicer"))
    getattr(grpc_module, f"add_{base.__name__}_to_server")(servicer, server)
    package = grpc_module.__name__.rsplit(".", 1)[0].replace("/", ".")
    return f"{package}.{base.__name__.removesuffix('Servicer')}"
