# mypy: allow-untyped-defs
"""The business department's rules and register: the name, the capital, the legal representative, the codes it issues."""

import pytest

from hall.v1 import approval_pb2
from services.adapters.business.rules import check_name
from services.adapters.sdk.settings import division_code
from services.adapters.sdk.testing import envelope, request, resident_id
from services.adapters.sdk.testing import only_decision as decision
from services.domain import identifiers

APPROVED, REFUSED = approval_pb2.OUTCOME_APPROVED, approval_pb2.OUTCOME_REFUSED


def codes(d):
    return [r.code for r in d.reasons]


def test_issues_a_valid_credit_code_and_licence_number(make_core):
    core = make_core("business")
    d = decision(core.handle(envelope(request("business", "licence"))))
    assert d.outcome == APPROVED
    credit = identifiers.validate_credit_code(d.results["credit_code"])
    assert credit.startswith("91" + division_code())
    identifiers.validate_registration_number(d.results["licence_number"])


def test_name_already_in_register_is_refused(make_core):
    core = make_core("business")
    fields = dict(request("business", "licence").fields)
    assert decision(core.handle(envelope(request("business", "licence", fields=fields)))).outcome == APPROVED
    d = decision(core.handle(envelope(request("business", "licence", fields=fields))))
    assert d.outcome == REFUSED and codes(d) == ["NAME_TAKEN"]
    assert d.reasons[0].field == "company_name" and "已被登记" in d.reasons[0].message


def test_every_problem_is_stated(make_core):
    core = make_core("business")
    fields = {"company_name": "中国东胜商贸", "registered_capital_fen": "abc", "business_scope": "",
              "legal_rep_name": "张", "legal_rep_id": resident_id(birth="20150101")}
    d = decision(core.handle(envelope(request("business", "licence", fields=fields))))
    assert d.outcome == REFUSED
    assert set(codes(d)) == {"NAME_FORM_SUFFIX", "NAME_RESTRICTED_WORD", "CAPITAL_INVALID", "SCOPE_MISSING",
                             "LEGAL_REP_MINOR"}


@pytest.mark.parametrize(("name", "code"), [("东胜区鑫达商贸", "NAME_FORM_SUFFIX"), ("东胜区赌场有限公司", "NAME_FORBIDDEN_WORD")])
def test_name_rules(name, code):
    assert code in [r.code for r in check_name(name)]


def test_a_redelivered_request_gets_the_same_answer_and_no_second_code(make_core):
    core = make_core("business")
    env = envelope(request("business", "licence"))
    first, again = core.handle(env), core.handle(env)
    assert again.outcome == "replayed"
    assert decision(first) == decision(again)


def test_cancelled_step_is_answered_cancelled(make_core):
    core = make_core("business")
    req = request("business", "licence")
    core.handle(envelope(approval_pb2.CancelStep(case_id=req.case_id, step_id=req.step_id, department="business")))
    d = decision(core.handle(envelope(req)))
    assert d.outcome == approval_pb2.OUTCOME_CANCELLED


def test_a_later_attempt_of_a_decided_step_gets_that_decision_not_a_second_licence(make_core):
    # Attempt 1 was answered FAILED, then redelivered and decided after the router had already
    # asked again: attempt 2 must not register the company a second time.
    core = make_core("business")
    first = request("business", "licence", attempt=1)
    one = decision(core.handle(envelope(first, "req-1")))
    second = request("business", "licence", case_id=first.case_id, fields=dict(first.fields), attempt=2)
    result = core.handle(envelope(second, "req-2"))
    two = decision(result)
    assert result.outcome == "replayed"
    assert two.outcome == one.outcome == APPROVED and dict(two.results) == dict(one.results)
    assert (two.request_message_id, two.attempt) == ("req-2", 2)  # answers the attempt the router waits for
    again = decision(core.handle(envelope(second, "req-2")))  # a redelivery of attempt 2
    assert again == two


def test_a_failed_attempt_is_decided_afresh_by_the_next(make_core, monkeypatch):
    core = make_core("business")
    first = request("business", "licence", attempt=1)

    def boom(*_a, **_k):
        raise RuntimeError("register offline")

    monkeypatch.setattr(core.department, "decide", boom)
    assert decision(core.handle(envelope(first, "req-1"))).outcome == approval_pb2.OUTCOME_FAILED
    monkeypatch.undo()
    second = request("business", "licence", case_id=first.case_id, fields=dict(first.fields), attempt=2)
    result = core.handle(envelope(second, "req-2"))
    assert result.outcome == "decided" and decision(result).outcome == APPROVED


def test_a_cancel_racing_its_request_never_leaves_an_unmarked_licence(make_core):
    # The router's cancel can reach a department while its worker is still deciding the request:
    # either the request sees the cancel (CANCELLED), or the cancel sees the licence and marks it.
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    core = make_core("business")
    with ThreadPoolExecutor(2) as pool:
        for _ in range(15):
            req = request("business", "licence")
            cancel = approval_pb2.CancelStep(case_id=req.case_id, step_id=req.step_id, department="business")
            decided, _ = pool.map(core.handle, [envelope(req), envelope(cancel)])
            outcome = decision(decided).outcome
            with core._sessions() as session:
                status = session.execute(text("SELECT status FROM business_companies WHERE case_id = :c"),
                                         {"c": req.case_id}).scalar()
            assert (outcome, status) in ((approval_pb2.OUTCOME_CANCELLED, None), (APPROVED, "case_cancelled"))


def test_two_attempts_of_a_step_at_once_are_decided_once(make_core):
    # A late redelivery of attempt 1 and the router's attempt 2 reach two workers together.
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    core = make_core("business")
    with ThreadPoolExecutor(2) as pool:
        for _ in range(10):
            first = request("business", "licence", attempt=1)
            second = request("business", "licence", case_id=first.case_id, fields=dict(first.fields), attempt=2)
            results = list(pool.map(core.handle, [envelope(first), envelope(second)]))
            assert sorted(r.outcome for r in results) == ["decided", "replayed"]
            assert dict(decision(results[0]).results) == dict(decision(results[1]).results)
            with core._sessions() as session:
                kinds = session.execute(text("SELECT kind FROM business_handled WHERE case_id = :c ORDER BY kind"),
                                        {"c": first.case_id}).scalars().all()
            assert kinds == ["decided", "replayed"]
