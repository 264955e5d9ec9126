import json

import pytest

from services.catalogue import CatalogueError, load
from services.catalogue.loader import DEFAULT_PATH, parse

COMPANY = "150602-YJS-0001"


@pytest.fixture
def raw():
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_shipped_catalogue_is_valid_and_covers_six_departments():
    cat = load()
    assert {m.department for m in cat.proto.matters} == {
        "business", "quality", "national_tax", "local_tax", "planning", "family_planning"}


def test_company_bundle_is_licence_then_org_code_then_both_taxes_in_parallel():
    plan = load().plan(bundle_code=COMPANY)
    assert plan.ready(set(), set())[0].step_id == "licence"
    assert [s.step_id for s in plan.ready({"licence"}, {"licence"})] == ["org_code"]
    assert {s.step_id for s in plan.ready({"licence", "org_code"}, {"licence", "org_code"})} == {
        "national_tax", "local_tax"}


def test_bundle_waives_materials_produced_upstream():
    codes = {m.code for m in load().required_materials(bundle_code=COMPANY)}
    assert "M-GS-LICENCE" not in codes and "M-ZJ-CERT" not in codes
    assert "M-GS-APPLY" in codes


def test_promised_longer_than_statutory_is_rejected(raw):
    raw["matters"][0]["promised_limit"] = {"amount": 99, "unit": "UNIT_WORKING_DAY"}
    with pytest.raises(CatalogueError, match="promised limit exceeds statutory"):
        parse(json.dumps(raw))


def test_free_matter_must_say_so(raw):
    free = next(m for m in raw["matters"] if not m["fees"]["charged"])
    free["fees"]["free_note"] = ""
    with pytest.raises(CatalogueError, match="不收费"):
        parse(json.dumps(raw))


def test_cycle_in_bundle_is_rejected(raw):
    raw["bundles"][0]["steps"][0]["after"] = ["national_tax"]
    with pytest.raises(CatalogueError, match="cycle"):
        parse(json.dumps(raw))


def test_need_not_provided_upstream_is_rejected(raw):
    raw["bundles"][0]["steps"][1]["needs"].append("nothing_provides_this")
    with pytest.raises(CatalogueError, match="nothing_provides_this"):
        parse(json.dumps(raw))


def test_unknown_field_in_file_is_rejected(raw):
    raw["matters"][0]["colour"] = "red"
    with pytest.raises(CatalogueError, match="does not match"):
        parse(json.dumps(raw))
