# mypy: allow-untyped-defs
"""The family planning department's rules: the birth policy as dated data, the birth registration."""

import datetime as dt

from hall.v1 import approval_pb2
from services.adapters.family_planning.policy import policy_on
from services.adapters.sdk.testing import envelope, request, resident_id
from services.adapters.sdk.testing import only_decision as decision

APPROVED, REFUSED = approval_pb2.OUTCOME_APPROVED, approval_pb2.OUTCOME_REFUSED


def test_birth_policy_is_dated_data():
    assert policy_on(dt.date(2015, 12, 31)).children_registered_on_the_spot == 1
    assert policy_on(dt.date(2016, 1, 1)).children_registered_on_the_spot == 2
    assert policy_on(dt.date(2026, 11, 25)).children_registered_on_the_spot == 3


def birth_fields(**over):
    return {"spouse_name": "李梅", "spouse_id": resident_id(birth="19900303", serial=22),
            "child_order": "2", "marriage_date": "2018-05-20", **over}


def test_birth_registration_on_the_spot_and_not_twice(make_core):
    core = make_core("family_planning")
    req = request("family_planning", "main", fields=birth_fields())
    d = decision(core.handle(envelope(req)))
    assert d.outcome == APPROVED and "三孩" in d.results["policy_basis"]
    again = request("family_planning", "main", fields=birth_fields())
    again.applicant.CopyFrom(req.applicant)
    d2 = decision(core.handle(envelope(again)))
    assert d2.outcome == REFUSED and d2.reasons[0].code == "ALREADY_REGISTERED"


def test_birth_registration_states_every_problem(make_core):
    fields = birth_fields(spouse_id="123", spouse_name="", child_order="4", marriage_date="2099-01-01")
    d = decision(make_core("family_planning").handle(envelope(request("family_planning", "main", fields=fields))))
    assert {r.code for r in d.reasons} == {"SPOUSE_ID_INVALID", "SPOUSE_NAME_MISSING", "CHILD_ORDER_BEYOND_POLICY",
                                          "MARRIAGE_DATE_FUTURE"}
