"""Tokens for tests, signed with the development key every test process verifies with (the
services under test run without HALL_AUTH_* keys)."""

from __future__ import annotations

import datetime as dt

from services.runtime import auth
from services.runtime.auth import Principal, Role

_ISSUER = auth.Issuer("")


def token(subject: str, role: str = "clerk", *, window: str = "", department: str = "",
          ttl: dt.timedelta = dt.timedelta(hours=1)) -> str:
    principal = Principal(subject=subject, role=auth.ROLE_NAMES[role], window_id=window, department=department)
    return _ISSUER.issue(principal, ttl)[0]


def clerk(subject: str = "clerk-0001", window: str = "A01") -> str:
    return token(subject, "clerk", window=window)


def officer(department: str, subject: str = "") -> str:
    return token(subject or f"officer-{department}", "officer", department=department)


def supervisor(subject: str = "inspector-0001") -> str:
    return token(subject, "supervisor")


def head(subject: str = "head-0001") -> str:
    """The hall's head: a supervisor listed in SUPERVISION_HALL_HEADS (default head-0001)."""
    return token(subject, "supervisor")


def operator(subject: str = "ops-0007") -> str:
    return token(subject, "operator")


def service(name: str = "web") -> str:
    return _ISSUER.issue(Principal(subject=f"svc:{name}", role=Role.ROLE_SERVICE), dt.timedelta(hours=1))[0]
