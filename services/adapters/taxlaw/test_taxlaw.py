# mypy: allow-untyped-defs
"""The tax registration rule both tax departments apply (taxlaw/), with the business register
stood in for: the licence looked up, the number the division's plus the organisation code, one
registration per taxpayer, a batch's licences asked for in one call."""

import pytest

from hall.v1 import approval_pb2, department_pb2
from services.adapters.sdk.neighbours import NeighbourUnavailable
from services.adapters.sdk.settings import division_code
from services.adapters.sdk.testing import envelope, request
from services.adapters.sdk.testing import only_decision as decision
from services.domain import identifiers

APPROVED, REFUSED = approval_pb2.OUTCOME_APPROVED, approval_pb2.OUTCOME_REFUSED
ORG = "MA000042" + identifiers.org_code_check_char("MA000042")
CREDIT = identifiers.build_credit_code("9", "1", division_code(), ORG)


class Register:
    """Stands in for the business register's gRPC service (its own test covers the real one)."""

    def __init__(self, *companies, batch_fails=False):
        self.known = {c.credit_code: c for c in companies}
        self.batch_fails = batch_fails
        self.calls = []  # ("company", code) or ("companies", [(code, case_id), ...])

    def company(self, credit_code):
        self.calls.append(("company", credit_code))
        return self.known.get(credit_code)

    def companies(self, queries):
        self.calls.append(("companies", [(q.credit_code, q.case_id) for q in queries]))
        if self.batch_fails:
            raise NeighbourUnavailable("business register at test: UNAVAILABLE")
        return {q.credit_code: self.known[q.credit_code] for q in queries if q.credit_code in self.known}


ACTIVE = department_pb2.Company(credit_code=CREDIT, name="东胜区甲有限公司", org_code=ORG, status="active")


@pytest.fixture
def tax_core(make_core):
    def make(code, register=None):
        return make_core(code, register=register or Register(ACTIVE))
    return make


def test_tax_refuses_a_licence_the_business_register_does_not_have(tax_core):
    core = tax_core("local_tax", Register())
    d = decision(core.handle(envelope(request("local_tax", "local_tax", upstream={
        "credit_code": CREDIT, "org_code": ORG, "company_name": "x"}))))
    assert d.outcome == REFUSED and d.reasons[0].code == "LICENCE_NOT_REGISTERED"


def test_tax_registration_number_is_division_plus_org_code(tax_core):
    for code, key in (("national_tax", "national_tax_registration"), ("local_tax", "local_tax_registration")):
        core = tax_core(code)
        d = decision(core.handle(envelope(request(code, code, upstream={
            "credit_code": CREDIT, "org_code": ORG, "company_name": "东胜区甲有限公司"}))))
        assert d.outcome == APPROVED and d.results[key] == division_code() + ORG


def company(n):
    org = f"MA{n:06d}" + identifiers.org_code_check_char(f"MA{n:06d}")
    return department_pb2.Company(credit_code=identifiers.build_credit_code("9", "1", division_code(), org),
                                  name=f"东胜区{n}有限公司", org_code=org, status="active")


def tax_request(c):
    return envelope(request("national_tax", "national_tax", upstream={
        "credit_code": c.credit_code, "org_code": c.org_code, "company_name": c.name}))


def test_a_batch_asks_the_business_register_once_for_every_licence(tax_core):
    known = [company(n) for n in range(1, 4)]
    register = Register(*known)
    core = tax_core("national_tax", register)
    unknown = company(99)  # not in the register
    envs = [tax_request(c) for c in [*known, unknown]]
    answers = [decision(r) for r in core.handle_requests(envs)]
    assert [a.outcome for a in answers] == [APPROVED] * 3 + [REFUSED]
    assert answers[3].reasons[0].code == "LICENCE_NOT_REGISTERED"
    # one call, each licence asked for its own case (the register records it in that case's timeline)
    assert register.calls == [("companies", [(c.credit_code, e.message.case_id) for c, e in
                                             zip([*known, unknown], envs, strict=True)])]


def test_a_failed_batch_lookup_leaves_each_request_to_ask_alone(tax_core):
    known = [company(n) for n in range(11, 13)]
    register = Register(*known, batch_fails=True)
    core = tax_core("national_tax", register)
    answers = [decision(r) for r in core.handle_requests([tax_request(c) for c in known])]
    assert [a.outcome for a in answers] == [APPROVED, APPROVED]
    assert [kind for kind, _ in register.calls] == ["companies", "company", "company"]


def test_tax_refuses_an_org_code_that_is_not_in_the_credit_code(tax_core):
    core = tax_core("national_tax")
    d = decision(core.handle(envelope(request("national_tax", "national_tax", upstream={
        "credit_code": CREDIT, "org_code": "D2143569X", "company_name": "x"}))))
    assert d.outcome == REFUSED and d.reasons[0].code == "ORG_CODE_MISMATCH"
