"""Requests decided together (the adapter's group commit): each gets the answer it would get alone,
on PostgreSQL (the transaction's reads and its commit pipelined) and on SQLite."""

import pytest
from sqlalchemy import text

from hall.v1 import approval_pb2
from services.adapters.sdk.testing import envelope, request
from services.adapters.sdk.testing import only_decision as decision
from services.domain import identifiers

pytestmark = pytest.mark.parametrize("make_core", ["postgresql", "sqlite"], indirect=True)
APPROVED, REFUSED, FAILED = approval_pb2.OUTCOME_APPROVED, approval_pb2.OUTCOME_REFUSED, approval_pb2.OUTCOME_FAILED


def handled_kinds(core, case_id):
    with core._sessions() as session:
        return session.execute(text("SELECT kind FROM business_handled WHERE case_id = :c ORDER BY kind"),
                               {"c": case_id}).scalars().all()


def test_a_batch_decides_each_request_with_a_licence_of_its_own(make_core):
    core = make_core("business")
    envs = [envelope(request("business", "licence")) for _ in range(6)]
    results = core.handle_requests(envs)
    answers = [decision(r) for r in results]
    assert [r.outcome for r in results] == ["decided"] * 6
    assert all(a.outcome == APPROVED for a in answers)
    assert [a.request_message_id for a in answers] == [e.message_id for e in envs]
    codes = [a.results["credit_code"] for a in answers]
    assert len(set(codes)) == 6
    for code in codes:
        identifiers.validate_credit_code(code)
    assert all(handled_kinds(core, e.message.case_id) == ["decided"] for e in envs)
    # Redelivered together: the same answers, nothing decided again.
    again = core.handle_requests(envs)
    assert [r.outcome for r in again] == ["replayed"] * 6
    assert [decision(r) for r in again] == answers


def test_two_attempts_of_a_step_in_one_batch_are_decided_once(make_core):
    core = make_core("business")
    first = request("business", "licence", attempt=1)
    second = request("business", "licence", case_id=first.case_id, fields=dict(first.fields), attempt=2)
    one, two = core.handle_requests([envelope(first, "req-1"), envelope(second, "req-2")])
    assert (one.outcome, two.outcome) == ("decided", "replayed")
    assert dict(decision(one).results) == dict(decision(two).results)
    assert (decision(two).request_message_id, decision(two).attempt) == ("req-2", 2)
    assert handled_kinds(core, first.case_id) == ["decided", "replayed"]


def test_one_name_twice_in_a_batch_is_registered_once(make_core):
    core = make_core("business")
    fields = dict(request("business", "licence").fields)
    one, two = core.handle_requests([envelope(request("business", "licence", fields=fields)),
                                     envelope(request("business", "licence", fields=fields))])
    assert decision(one).outcome == APPROVED
    assert decision(two).outcome == REFUSED and [r.code for r in decision(two).reasons] == ["NAME_TAKEN"]


def test_a_cancelled_step_in_a_batch_is_answered_cancelled_and_the_rest_decided(make_core):
    core = make_core("business")
    cancelled, other = request("business", "licence"), request("business", "licence")
    core.handle(envelope(approval_pb2.CancelStep(case_id=cancelled.case_id, step_id=cancelled.step_id,
                                                 department="business")))
    results = core.handle_requests([envelope(cancelled), envelope(other)])
    assert [decision(r).outcome for r in results] == [approval_pb2.OUTCOME_CANCELLED, APPROVED]


def test_a_technical_failure_fails_its_own_request_only(make_core, monkeypatch):
    core = make_core("business")
    broken = request("business", "licence")
    envs = [envelope(request("business", "licence")), envelope(broken), envelope(request("business", "licence"))]
    real = core.department.decide

    def decide(req, register):
        if req.case_id == broken.case_id:
            raise ConnectionError("register unreachable")
        return real(req, register)

    monkeypatch.setattr(core.department, "decide", decide)
    results = core.handle_requests(envs)
    assert [decision(r).outcome for r in results] == [APPROVED, FAILED, APPROVED]
    assert [r.outcome for r in results] == ["decided", "failed", "decided"]
    assert "register unreachable" in decision(results[1]).reasons[0].message
    assert handled_kinds(core, broken.case_id) == []  # a failure is not recorded: the next attempt decides afresh
    # The batch was rolled back and each decided alone: one licence for each of the others.
    with core._sessions() as session:
        companies = session.execute(text("SELECT case_id FROM business_companies WHERE case_id IN (:a, :b)"),
                                    {"a": envs[0].message.case_id, "b": envs[2].message.case_id}).scalars().all()
    assert sorted(companies) == sorted([envs[0].message.case_id, envs[2].message.case_id])
