"""Who is calling: the hall's staff tokens, service identities, and the access rules of the contract.

People sign in with AuthService.Login (served by intake) and get a JWT signed with the hall's
Ed25519 key (EdDSA, PyJWT): subject, role, window or department, expiry. Every service verifies
it with the public key alone, so only intake holds the private key. Services prove themselves by
their client certificate when TLS is configured (mTLS: the certificate's common name is the
service), else by a service token (role ROLE_SERVICE) that `make run` mints for each process.

The rule of each RPC is the `hall.v1.access` option on it in protos/ (the one place it is
written); `authorize` enforces it. The identity bound as the call's actor is the verified one:
an `x-actor-id` a caller writes in metadata is ignored.

Keys (PEM, from Secrets in Kubernetes):
  HALL_AUTH_PUBLIC_KEYS[_FILE]  the public key(s) tokens are verified with; several PEM blocks
                                during a rotation (tokens of the old key stay valid until they expire)
  HALL_AUTH_SIGNING_KEY[_FILE]  the private key intake signs with (intake only)
Without them a development key derived from a fixed seed is used, and the process says so: its
tokens prove nothing. HALL_AUTH_REQUIRE_KEYS=true (the production overlay) refuses to start then.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

from hall.v1 import access_pb2, auth_pb2
from services.runtime.config import ConfigError, env_choice, env_secret
from services.runtime.errors import PermissionDenied, Unauthenticated

log = structlog.get_logger(__name__)

ISSUER = "hall"
AUDIENCE = "hall"
AUTHORIZATION = "authorization"
_DEV_SEED = hashlib.sha256(b"hall development sign-in key: proves nothing").digest()
_KNOWN_TOKENS = 10_000  # verified tokens remembered per process (all forgotten when full)
Role = access_pb2.Role

ROLE_NAMES = {"clerk": Role.ROLE_CLERK, "officer": Role.ROLE_OFFICER, "supervisor": Role.ROLE_SUPERVISOR,
              "operator": Role.ROLE_OPERATOR, "service": Role.ROLE_SERVICE}
ROLE_TITLES = {Role.ROLE_CLERK: "窗口工作人员", Role.ROLE_OFFICER: "部门审批人员", Role.ROLE_SUPERVISOR: "监察员",
               Role.ROLE_OPERATOR: "平台运维人员", Role.ROLE_SERVICE: "大厅系统服务"}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: int
    name: str = ""
    window_id: str = ""
    department: str = ""

    def to_proto(self) -> auth_pb2.Principal:
        return auth_pb2.Principal(subject=self.subject, name=self.name, role=self.role,  # type: ignore[arg-type]
                                  window_id=self.window_id, department=self.department)

    @property
    def role_name(self) -> str:
        return next((n for n, r in ROLE_NAMES.items() if r == self.role), "")


_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current() -> Principal | None:
    """The verified caller of the call being served (None outside a call, e.g. in unit tests)."""
    return _PRINCIPAL.get()


def bind(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _PRINCIPAL.set(principal)


def unbind(token: contextvars.Token[Principal | None]) -> None:
    _PRINCIPAL.reset(token)


# --- keys -------------------------------------------------------------------------------------

def _require_keys() -> bool:
    return env_choice("HALL_AUTH_REQUIRE_KEYS", "false", ("true", "false")) == "true"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def development_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_DEV_SEED)


class Verifier:
    """Verifies tokens with the hall's public key(s), by the token's key id."""

    def __init__(self, pems: str | None = None) -> None:
        pems = env_secret("HALL_AUTH_PUBLIC_KEYS") if pems is None else pems
        self.development = not pems
        if self.development:
            if _require_keys():
                raise ConfigError("HALL_AUTH_PUBLIC_KEYS is required (HALL_AUTH_REQUIRE_KEYS=true)")
            keys = [development_key().public_key()]
        else:
            keys = []
            for block in re.findall(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", pems, re.S):
                key = serialization.load_pem_public_key(block.encode())
                if not isinstance(key, Ed25519PublicKey):
                    raise ConfigError("HALL_AUTH_PUBLIC_KEYS holds a key that is not Ed25519")
                keys.append(key)
            if not keys:
                raise ConfigError("HALL_AUTH_PUBLIC_KEYS holds no PEM public key")
        self._keys = {key_id(k): k for k in keys}
        # A counter calls with one token all day: its signature is checked once, then the token
        # is known until it expires (a signature check costs more than the call it guards).
        self._known: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        with self._lock:
            known = self._known.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        principal, expires = self._verify(token)
        with self._lock:
            if len(self._known) >= _KNOWN_TOKENS:
                self._known.clear()
            self._known[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid", "")))
            if key is None:
                raise Unauthenticated("token signed by an unknown key", reason="TOKEN_INVALID",
                                      zh="登录凭证无效，请重新登录（hall login）")
            claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "role"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired", reason="TOKEN_EXPIRED",
                                  zh="登录已过期，请重新登录（hall login）") from None
        except jwt.PyJWTError as err:
            raise Unauthenticated(f"token invalid: {err}", reason="TOKEN_INVALID",
                                  zh="登录凭证无效，请重新登录（hall login）") from None
        role = ROLE_NAMES.get(str(claims.get("role", "")))
        if role is None:
            raise Unauthenticated("token names no known role", reason="TOKEN_INVALID", zh="登录凭证无效，请重新登录")
        return Principal(subject=str(claims["sub"]), role=role, name=str(claims.get("name", "")),
                         window_id=str(claims.get("window", "")), department=str(claims.get("dept", ""))), \
            float(claims["exp"])


class Issuer:
    """Signs tokens with the hall's private key (intake's AuthService; `make run` for services)."""

    def __init__(self, pem: str | None = None) -> None:
        pem = env_secret("HALL_AUTH_SIGNING_KEY") if pem is None else pem
        self.development = not pem
        if self.development:
            if _require_keys():
                raise ConfigError("HALL_AUTH_SIGNING_KEY is required (HALL_AUTH_REQUIRE_KEYS=true)")
            self._key = development_key()
        else:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ConfigError("HALL_AUTH_SIGNING_KEY is not an Ed25519 private key")
            self._key = key
        self.key_id = key_id(self._key.public_key())

    def issue(self, principal: Principal, ttl: dt.timedelta, *, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
        now = now or dt.datetime.now(dt.UTC)
        expires = now + ttl
        claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": principal.subject,
                                  "role": principal.role_name, "iat": now, "exp": expires}
        for claim, value in (("name", principal.name), ("window", principal.window_id),
                             ("dept", principal.department)):
            if value:
                claims[claim] = value
        token = jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.key_id})
        return token, expires


def service_token(service: str, issuer: Issuer | None = None, ttl: dt.timedelta = dt.timedelta(days=30)) -> str:
    """A service's own token (role ROLE_SERVICE, subject svc:<service>)."""
    token, _ = (issuer or Issuer()).issue(Principal(subject=f"svc:{service}", role=Role.ROLE_SERVICE), ttl)
    return token


# --- the contract's rules ---------------------------------------------------------------------

_RULES: dict[str, access_pb2.Access | None] = {}


def rule(method: str) -> access_pb2.Access | None:
    """The `hall.v1.access` option of `/package.Service/Method` (None: none declared)."""
    if method not in _RULES:
        found: access_pb2.Access | None = None
        try:
            service, name = method.lstrip("/").rsplit("/", 1)
            descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
            options = descriptor.GetOptions()
            if options.HasExtension(access_pb2.access):
                found = options.Extensions[access_pb2.access]
        except (KeyError, ValueError):
            found = None
        _RULES[method] = found
    return _RULES[method]


# The common names that make a client certificate a service of the hall (the Deployments' names).
# Any other certificate of the hall's CA (a counter PC's, a kiosk's) only opens the connection:
# the person behind it still signs in.
SERVICE_NAMES = re.compile(r"(intake|router|fees|audit|supervision|web|adapter-[a-z-]+|desk-[a-z-]+)")


def _peer_service(ctx: grpc.ServicerContext) -> Principal | None:
    """A caller proven by its client certificate (mTLS, verified against the hall's CA by the
    server's credentials) whose common name is one of the hall's services."""
    auth = ctx.auth_context() if hasattr(ctx, "auth_context") else {}
    names: Any = auth.get("x509_common_name") or []
    if not names:
        return None
    cn = (names[0].decode() if isinstance(names[0], bytes) else str(names[0])).removeprefix("svc:")
    if not SERVICE_NAMES.fullmatch(cn):
        return None
    return Principal(subject=f"svc:{cn}", role=Role.ROLE_SERVICE)


def authenticate(ctx: grpc.ServicerContext, metadata: dict[str, str], verifier: Verifier) -> Principal | None:
    """The verified caller: its bearer token, else its client certificate; None if neither."""
    header = metadata.get(AUTHORIZATION, "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("authorization must be 'Bearer <token>'", reason="TOKEN_INVALID",
                                  zh="登录凭证无效，请重新登录（hall login）")
        return verifier.verify(token.strip())
    return _peer_service(ctx)


def _field(request: Message, name: str) -> str:
    return str(getattr(request, name, "") or "")


def authorize(method: str, request: Message | None, principal: Principal | None, *, desk: str = "") -> None:
    """Enforce the RPC's rule for `principal`, writing the verified identity (and an officer's
    own department, when the request leaves it empty) into the request. Raises Unauthenticated
    or PermissionDenied; changes nothing else."""
    access = rule(method)
    if access is not None and access.public:
        return
    if principal is None:
        raise Unauthenticated("sign in first: no token", reason="TOKEN_MISSING", zh="请先登录（hall login）")
    if access is None or principal.role not in access.roles:
        allowed = "、".join(ROLE_TITLES[r] for r in (access.roles if access else ()))
        raise PermissionDenied(f"{principal.subject} ({principal.role_name}) may not call {method}"
                               f"（此操作仅限{allowed or '无人'}）", reason="ROLE_REQUIRED")
    if principal.role == Role.ROLE_SERVICE:
        return  # a service acts for the hall; the request's own fields name the person
    if access.desk and principal.department != desk:
        raise PermissionDenied(f"{principal.subject} is an officer of {principal.department or 'no department'},"
                               f" not of {desk}（只能办理本部门的事项）", reason="OTHER_DEPARTMENT")
    if request is None:
        return
    # (the request field, whose it is, the caller's own value, why and what the clerk reads)
    scopes = [(access.actor_field, True, principal.subject, "ACTING_FOR_ANOTHER", "不能以他人名义办理"),
              (access.window_field, principal.role == Role.ROLE_CLERK, principal.window_id, "OTHER_WINDOW",
               "只能在本人窗口办理"),
              (access.department_field, principal.role == Role.ROLE_OFFICER, principal.department,
               "OTHER_DEPARTMENT", "只能办理本部门的事项")]
    for field, applies, own, reason, zh in scopes:
        if not field or not applies:
            continue
        named = _field(request, field)
        if named and named != own:
            raise PermissionDenied(f"{field}={named} is not {principal.subject}'s own ({own or '-'})（{zh}）",
                                   reason=reason)
        setattr(request, field, own)
