import pytest
from google.protobuf import json_format

from hall.v1 import common_pb2, intake_pb2
from services.catalogue import load
from services.intake import fields as field_rules
from services.intake.validation import check_submission
from services.runtime.errors import IncompleteApplication, InvalidArgument, NotFound
from tests.support.samples import company_registration, sample_resident_id


def _problems(req):
    with pytest.raises(IncompleteApplication) as err:
        check_submission(load(), req)
    return err.value


def test_complete_application_passes_and_comes_back_in_its_stored_form():
    req = company_registration()
    rep = req.fields["legal_rep_id"]
    req.fields["legal_rep_id"] = " ".join(rep[:-1]) + " " + rep[-1].lower()  # spaced, lower-case x
    req.fields["registered_capital_fen"] = "５０００００００"  # full-width digits
    stored = check_submission(load(), req)
    assert stored.fields["legal_rep_id"] == rep and stored.fields["registered_capital_fen"] == "50000000"


def test_wrong_id_check_digit_names_the_field():
    req = company_registration()
    req.applicant.id_number = req.applicant.id_number[:-1] + ("1" if req.applicant.id_number[-1] != "1" else "2")
    assert ("applicant.id_number", "公民身份号码校验码不正确") in _problems(req).violations


def test_all_missing_materials_are_listed_at_once():
    req = company_registration()
    del req.materials[:]
    req.materials.append("M-GS-APPLY")
    error = _problems(req)
    assert error.code.name == "FAILED_PRECONDITION" and not error.violations
    missing = {subject for _, subject, _ in error.missing}
    assert missing == {m.code for m in load().required_materials(bundle_code=req.bundle_code)} - {"M-GS-APPLY"}


def test_one_error_of_each_kind_comes_back_in_one_answer():
    """Amount, ID inside the form, length, person name, enum-like and date rules, the applicant's
    phone, an unknown field and material, and a missing material: one refusal lists them all."""
    req = company_registration()
    req.fields["registered_capital_fen"] = "12.5"            # not whole fen
    req.fields["legal_rep_id"] = sample_resident_id()[:-1] + "0"  # wrong check digit (unless it is 0)
    if sample_resident_id().endswith("0"):
        req.fields["legal_rep_id"] = sample_resident_id()[:-1] + "1"
    req.fields["business_scope"] = "售" * 1001                # too long
    req.fields["legal_rep_name"] = "王建军123"                # not a name
    req.fields["nickname"] = "x"                            # not a field of the matter
    req.applicant.phone = "12"
    req.materials.remove("M-GS-ADDRESS")
    req.materials.append("M-NOPE")
    error = _problems(req)
    assert error.code.name == "INVALID_ARGUMENT"
    paths = {path for path, _ in error.violations}
    assert paths == {"fields.registered_capital_fen", "fields.legal_rep_id", "fields.business_scope",
                     "fields.legal_rep_name", "fields.nickname", "applicant.phone", f"materials[{len(req.materials) - 1}]"}
    assert {code for _, code, _ in error.missing} == {"M-GS-ADDRESS"}
    assert all(any("\u4e00" <= c <= "\u9fff" for c in text) for _, text in error.violations)  # Chinese, for the clerk


@pytest.mark.parametrize("name, value, ok", [
    ("plot_ratio_x100", "250", True), ("plot_ratio_x100", "0", False), ("plot_ratio_x100", "2.5", False),
    ("height_cm", "2100", True), ("height_cm", "99999999", False),
    ("land_use", "r2", True), ("land_use", "二类居住用地", True), ("land_use", "Z9", False),
    ("parcel_id", "ds-2026-001", True), ("parcel_id", "DS2026001", False),
    ("project_name", "楼", False), ("builder_name", "东胜区某置业有限公司", True),
])
def test_planning_fields_follow_their_rules(name, value, ok):
    field = next(f for f in load().matters["150602-GH-0001"].form_fields if f.name == name)
    if ok:
        field_rules.check(field, value)
    else:
        with pytest.raises(field_rules.FieldProblem):
            field_rules.check(field, value)


@pytest.mark.parametrize("value, ok", [("2019-10-01", True), ("2999-01-01", False), ("2019/10/01", False),
                                       ("２０１９-１０-０１", True)])
def test_a_marriage_date_is_a_date_that_has_happened(value, ok):
    field = next(f for f in load().matters["150602-JS-0001"].form_fields if f.name == "marriage_date")
    if ok:
        assert field_rules.check(field, value) == "2019-10-01"
    else:
        with pytest.raises(field_rules.FieldProblem):
            field_rules.check(field, value)


@pytest.mark.parametrize("name, ok", [("王建军", True), ("阿依古丽·买买提", True), ("John Smith", True),
                                      ("王", False), ("王建军1", False), ("·王", False)])
def test_person_names(name, ok):
    field = next(f for f in load().matters["150602-JS-0001"].form_fields if f.name == "spouse_name")
    if ok:
        field_rules.check(field, name)
    else:
        with pytest.raises(field_rules.FieldProblem):
            field_rules.check(field, name)


def test_every_declared_field_has_a_rule_the_notice_can_state():
    for matter in load().proto.matters:
        for f in matter.form_fields:
            assert field_rules.describe(f), f.name


def test_an_organisation_applies_with_its_credit_code():
    req = company_registration()
    req.applicant.kind = common_pb2.Applicant.KIND_ORGANISATION
    req.applicant.name = "东胜区某置业有限公司"
    assert "applicant.id_number" in {p for p, _ in _problems(req).violations}  # a resident id is not a credit code


def test_unknown_matter_is_not_found():
    req = intake_pb2.SubmitApplicationRequest()
    json_format.ParseDict({"request_id": "r", "matter_code": "NOPE"}, req)
    with pytest.raises(NotFound):
        check_submission(load(), req)


def test_both_matter_and_bundle_is_invalid():
    req = company_registration()
    req.matter_code = "150602-GS-0001"
    with pytest.raises(InvalidArgument):
        check_submission(load(), req)
