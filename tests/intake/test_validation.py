import pytest
from google.protobuf import json_format

from hall.v1 import intake_pb2
from services.catalogue import load
from services.intake.validation import check_submission
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.support.samples import company_registration


def test_complete_application_passes():
    check_submission(load(), company_registration())


def test_wrong_id_check_digit_names_the_field():
    req = company_registration()
    req.applicant.id_number = req.applicant.id_number[:-1] + ("1" if req.applicant.id_number[-1] != "1" else "2")
    with pytest.raises(InvalidArgument) as err:
        check_submission(load(), req)
    assert ("applicant.id_number", "公民身份号码校验码不正确") in err.value.violations


def test_all_missing_materials_are_listed_at_once():
    req = company_registration()
    del req.materials[:]
    req.materials.append("M-GS-APPLY")
    with pytest.raises(FailedPrecondition) as err:
        check_submission(load(), req)
    missing = {subject for _, subject, _ in err.value.violations}
    assert missing == {m.code for m in load().required_materials(bundle_code=req.bundle_code)} - {"M-GS-APPLY"}


def test_all_field_problems_are_listed_at_once():
    req = company_registration()
    req.fields.pop("company_name")
    req.fields.pop("business_scope")
    req.applicant.phone = "12"
    with pytest.raises(InvalidArgument) as err:
        check_submission(load(), req)
    fields = {f for f, _ in err.value.violations}
    assert {"fields.company_name", "fields.business_scope", "applicant.phone"} <= fields


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
