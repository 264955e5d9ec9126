# mypy: allow-untyped-defs
"""The quality department's rules: the organisation code certificate (GB 11714) inside the credit code."""

from hall.v1 import approval_pb2
from services.adapters.quality.samples import CREDIT, ORG
from services.adapters.sdk.testing import envelope, request
from services.adapters.sdk.testing import only_decision as decision

APPROVED, REFUSED = approval_pb2.OUTCOME_APPROVED, approval_pb2.OUTCOME_REFUSED


def test_quality_issues_the_org_code_inside_the_credit_code(make_core):
    core = make_core("quality")
    d = decision(core.handle(envelope(request("quality", "org_code", upstream={
        "credit_code": CREDIT, "company_name": "东胜区甲有限公司"}))))
    assert d.outcome == APPROVED and d.results["org_code"] == ORG


def test_quality_refuses_a_bad_credit_code(make_core):
    core = make_core("quality")
    d = decision(core.handle(envelope(request("quality", "org_code", upstream={
        "credit_code": CREDIT[:-1] + ("0" if CREDIT[-1] != "0" else "1"), "company_name": "x"}))))
    assert d.outcome == REFUSED and d.reasons[0].code == "CREDIT_CODE_INVALID"


def test_quality_refuses_a_second_certificate_for_another_case(make_core):
    core = make_core("quality")
    up = {"credit_code": CREDIT, "company_name": "东胜区甲有限公司"}
    assert decision(core.handle(envelope(request("quality", "org_code", upstream=up)))).outcome == APPROVED
    d = decision(core.handle(envelope(request("quality", "org_code", upstream=up))))
    assert d.outcome == REFUSED and d.reasons[0].code == "ALREADY_CERTIFIED"
