"""Tokens (services/runtime/auth.py): signed by the hall's key, expiring, their claims the caller's
role, window and department; a token of another key or a tampered one is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from services.runtime import auth
from services.runtime.config import ConfigError
from services.runtime.errors import Unauthenticated

R = auth.Role


def pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()).decode()


def public_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,  # type: ignore[union-attr]
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@given(subject=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=30),
       role=st.sampled_from(["clerk", "officer", "supervisor", "operator"]),
       window=st.sampled_from(["", "A01", "C01"]), department=st.sampled_from(["", "planning", "national_tax"]))
def test_what_is_issued_is_what_is_verified(subject, role, window, department):
    issuer, verifier = auth.Issuer(""), auth.Verifier("")
    principal = auth.Principal(subject, auth.ROLE_NAMES[role], window_id=window, department=department)
    token, _ = issuer.issue(principal, dt.timedelta(minutes=5))
    assert verifier.verify(token) == principal


def test_expired_foreign_and_tampered_tokens_are_refused():
    key = pem()
    issuer, verifier = auth.Issuer(key), auth.Verifier(public_of(key))
    who = auth.Principal("clerk-0001", R.ROLE_CLERK, window_id="A01")
    old, _ = issuer.issue(who, dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    with pytest.raises(Unauthenticated) as expired:
        verifier.verify(old)
    assert expired.value.reason == "TOKEN_EXPIRED"
    foreign, _ = auth.Issuer(pem()).issue(who, dt.timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        verifier.verify(foreign)
    good, _ = issuer.issue(who, dt.timedelta(hours=1))
    head, claims, signature = good.split(".")
    forged = auth.Issuer(pem()).issue(auth.Principal("clerk-0001", R.ROLE_SUPERVISOR), dt.timedelta(hours=1))[0]
    with pytest.raises(Unauthenticated):
        verifier.verify(".".join([head, forged.split(".")[1], signature]))  # a supervisor's claims, the clerk's signature
    assert verifier.verify(good).role == R.ROLE_CLERK


def test_a_rotation_verifies_both_keys_and_production_refuses_to_start_without(monkeypatch):
    old, new = pem(), pem()
    verifier = auth.Verifier(public_of(old) + public_of(new))
    who = auth.Principal("ops-0007", R.ROLE_OPERATOR)
    for key in (old, new):
        assert verifier.verify(auth.Issuer(key).issue(who, dt.timedelta(minutes=1))[0]) == who
    monkeypatch.setenv("HALL_AUTH_REQUIRE_KEYS", "true")
    with pytest.raises(ConfigError):
        auth.Verifier("")
    with pytest.raises(ConfigError):
        auth.Issuer("")


def test_the_rule_writes_the_verified_identity_and_refuses_another():
    from hall.v1 import queue_pb2

    clerk = auth.Principal("clerk-0301", R.ROLE_CLERK, window_id="C01")
    request = queue_pb2.CallNextRequest()
    auth.authorize("/hall.v1.QueueService/CallNext", request, clerk)
    assert (request.clerk_id, request.window_id) == ("clerk-0301", "C01")
    for named in (queue_pb2.CallNextRequest(window_id="A01"), queue_pb2.CallNextRequest(clerk_id="clerk-0001")):
        with pytest.raises(Exception) as refused:
            auth.authorize("/hall.v1.QueueService/CallNext", named, clerk)
        assert refused.value.reason in ("OTHER_WINDOW", "ACTING_FOR_ANOTHER")  # type: ignore[attr-defined]
    with pytest.raises(Unauthenticated):
        auth.authorize("/hall.v1.QueueService/CallNext", request, None)
    auth.authorize("/hall.v1.AuthService/Login", None, None)  # the one public call
