import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain import identifiers as ids

ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# Published examples (GB 11643 appendix, and codes printed on real licences).
@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])
def test_known_resident_ids_are_accepted(number):
    assert ids.validate_resident_id(number) == number


def test_wrong_check_digit_is_refused_with_a_reason():
    with pytest.raises(ids.InvalidIdentifier, match="校验码"):
        ids.validate_resident_id("110105194912310021")


def test_future_birth_date_is_refused():
    first17 = "15060220991231001"
    number = first17 + ids.resident_id_check_digit(first17)
    with pytest.raises(ids.InvalidIdentifier, match="晚于今天"):
        ids.validate_resident_id(number, today=dt.date(2026, 11, 25))


def test_known_org_code():
    assert ids.validate_org_code("D2143569-X") == "D2143569X"


@given(st.text(alphabet=ORG_CHARS, min_size=8, max_size=8))
def test_org_code_check_char_round_trips(body):
    assert ids.validate_org_code(body + ids.org_code_check_char(body)) == body + ids.org_code_check_char(body)


@given(st.text(alphabet=ORG_CHARS, min_size=8, max_size=8), st.integers(0, 7), st.sampled_from(ORG_CHARS))
def test_org_code_detects_any_single_substitution(body, pos, char):
    # Detects every substitution whose value change is not a multiple of 11 (mod 11 checksum).
    code = body + ids.org_code_check_char(body)
    changed = code[:pos] + char + code[pos + 1:]
    if (ORG_CHARS.index(char) - ORG_CHARS.index(code[pos])) % 11:
        with pytest.raises(ids.InvalidIdentifier):
            ids.validate_org_code(changed)


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=6, max_size=6).map(lambda s: "MA" + s),
       st.sampled_from(sorted(ids.AUTHORITY_CATEGORIES)),
       st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_built_credit_codes_validate_and_contain_their_org_code(body, authority, division):
    category = ids.AUTHORITY_CATEGORIES[authority][0]
    org = body + ids.org_code_check_char(body)
    code = ids.build_credit_code(authority, category, division, org)
    assert ids.validate_credit_code(code) == code
    assert ids.org_code_from_credit_code(code) == org


@given(st.integers(0, 16), st.sampled_from(USCC_CHARS))
def test_credit_code_detects_single_substitution(pos, char):
    code = "91350100M000100Y43"
    changed = code[:pos] + char + code[pos + 1:]
    if changed != code:
        with pytest.raises(ids.InvalidIdentifier):
            ids.validate_credit_code(changed)


def test_credit_code_with_bad_inner_org_code_is_refused_even_if_check_char_matches():
    org_bad = "MA0000010"  # wrong GB 11714 check character
    first17 = "91150602" + org_bad
    code = first17 + ids.uscc_check_char(first17)
    with pytest.raises(ids.InvalidIdentifier, match="组织机构代码"):
        ids.validate_credit_code(code)


def test_credit_code_with_unknown_category_is_refused():
    org = "MA000001" + ids.org_code_check_char("MA000001")
    first17 = "97150602" + org  # authority 9 has categories 1-3 only
    with pytest.raises(ids.InvalidIdentifier, match="类别"):
        ids.validate_credit_code(first17 + ids.uscc_check_char(first17))


@given(st.integers(1, 9_999_999))
def test_registration_numbers_validate(seq):
    assert ids.validate_registration_number(ids.build_registration_number("150602", seq))


# ---- one normalisation for every kind; printed forms only ------------------------------------

def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


VALID = {
    ids.validate_resident_id: "11010519491231002X",
    ids.validate_org_code: "D2143569X",
    ids.validate_credit_code: ids.build_credit_code("9", "1", "150602", "D2143569X"),
}


@given(kind=st.sampled_from(list(VALID)), data=st.data())
def test_case_spaces_and_full_width_forms_are_the_same_identifier(kind, data):
    code = VALID[kind]
    spaces = data.draw(st.lists(st.sampled_from([" ", "\u3000", "\t"]), min_size=len(code) + 1, max_size=len(code) + 1))
    written = "".join(s + c for s, c in zip(spaces, code, strict=False)) + spaces[-1]
    if data.draw(st.booleans()):
        written = written.lower()
    if data.draw(st.booleans()):
        written = _full_width(written)
    assert kind(written) == code


@given(at=st.integers(min_value=1, max_value=8))
def test_an_organisation_code_takes_its_hyphen_only_before_the_check_character(at):
    code = VALID[ids.validate_org_code]
    assert ids.validate_org_code(code[:8] + "－" + code[8]) == code  # printed, full-width hyphen included
    if at != 8:
        with pytest.raises(ids.InvalidIdentifier, match="连字符"):
            ids.validate_org_code(code[:at] + "-" + code[at:])


@pytest.mark.parametrize("kind", [ids.validate_resident_id, ids.validate_credit_code])
def test_no_hyphen_in_a_resident_id_or_credit_code(kind):
    code = VALID[kind]
    with pytest.raises(ids.InvalidIdentifier):
        kind(code[:6] + "-" + code[6:])
