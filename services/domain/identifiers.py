"""Identifiers with real check algorithms.

- Resident ID number, GB 11643-1999: python-stdnum's `cn.ric`, plus a refusal of future birth dates.
- Organisation code, GB 11714-1997: our own (python-stdnum has none).
- Unified social credit code, GB 32100-2015: python-stdnum's check character, plus the
  registration-authority/category table and the organisation code inside it.
- Registration number (15 digits, ISO 7064 MOD 11,10): the pre-2015 licence number.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from stdnum import exceptions as stdnum_exc
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_10

from services.runtime import clock


class InvalidIdentifier(ValueError):
    """The identifier is malformed; the message says why, in Chinese a clerk can read aloud."""


def normalise(text: str) -> str:
    """The one normalisation every identifier gets before its check: full-width characters as
    their ASCII forms (NFKC: ＡＢ１２ -> AB12, the full-width hyphen too), no white space
    anywhere (the ideographic space included), upper case. Nothing else is removed: a hyphen
    stays, and only the printed forms allow one (an organisation code's, before its check
    character)."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


# ---- GB 11643: resident identity number -------------------------------------------------------

def validate_resident_id(number: str, *, today: dt.date | None = None) -> str:
    """Return the compact number, or raise InvalidIdentifier."""
    compact = normalise(number)
    if len(compact) != 18:
        raise InvalidIdentifier("公民身份号码应为18位")
    if not compact[:17].isdigit() or not (compact[17].isdigit() or compact[17] == "X"):
        raise InvalidIdentifier("公民身份号码格式不正确")
    if compact[17] != ric.calc_check_digit(compact):
        raise InvalidIdentifier("公民身份号码校验码不正确")
    try:
        birth = ric.get_birth_date(compact)
    except stdnum_exc.ValidationError:
        raise InvalidIdentifier("公民身份号码中的出生日期不正确") from None
    if birth > (today or clock.today()):
        raise InvalidIdentifier("公民身份号码中的出生日期晚于今天")
    return str(compact)


def resident_id_check_digit(first17: str) -> str:
    return str(ric.calc_check_digit(first17 + "0"))


# ---- GB 11714: organisation code -----------------------------------------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def org_code_check_char(body: str) -> str:
    """Check character of an 8-character organisation code body (GB 11714-1997)."""
    if len(body) != 8 or any(c not in _ORG_CHARS for c in body):
        raise InvalidIdentifier("组织机构代码本体应为8位数字或大写字母")
    total = sum(_ORG_CHARS.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=False))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def validate_org_code(code: str) -> str:
    """Return the 9-character code; accepted as printed, with or without the one hyphen before
    the check character (12345678-9), and nowhere else."""
    compact = normalise(code)
    if len(compact) == 10 and compact[8] == "-":
        compact = compact[:8] + compact[9]
    if "-" in compact:
        raise InvalidIdentifier("组织机构代码只在校验码前有一个连字符（如 12345678-9）")
    if len(compact) != 9:
        raise InvalidIdentifier("组织机构代码应为9位")
    if compact[8] != org_code_check_char(compact[:8]):
        raise InvalidIdentifier("组织机构代码校验码不正确")
    return compact


def format_org_code(code: str) -> str:
    return f"{code[:8]}-{code[8]}"


# ---- GB 32100: unified social credit code -----------------------------------------------------

# Registration authority -> organisation categories it may register (GB 32100-2015, table 1-2).
AUTHORITY_CATEGORIES: dict[str, str] = {
    "1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129",
    "7": "129", "8": "19", "9": "123", "A": "19", "N": "1239", "Y": "1",
}
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_check_char(first17: str) -> str:
    return str(uscc.calc_check_digit(first17 + "0"))


def validate_credit_code(code: str) -> str:
    compact = normalise(code)
    if "-" in compact:
        raise InvalidIdentifier("统一社会信用代码不含连字符")
    if len(compact) != 18:
        raise InvalidIdentifier("统一社会信用代码应为18位")
    if any(c not in _USCC_ALPHABET for c in compact):
        raise InvalidIdentifier("统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）")
    authority, category = compact[0], compact[1]
    if category not in AUTHORITY_CATEGORIES.get(authority, ""):
        raise InvalidIdentifier("统一社会信用代码的登记管理部门或机构类别代码不正确")
    if not compact[2:8].isdigit():
        raise InvalidIdentifier("统一社会信用代码的行政区划码应为6位数字")
    validate_org_code(compact[8:17])
    if compact[17] != uscc_check_char(compact[:17]):
        raise InvalidIdentifier("统一社会信用代码校验码不正确")
    return compact


def build_credit_code(authority: str, category: str, division: str, org_code: str) -> str:
    """Assemble a credit code from its parts and append the check character."""
    org = validate_org_code(org_code)
    first17 = f"{authority}{category}{division}{org}"
    code = first17 + uscc_check_char(first17)
    return validate_credit_code(code)


def org_code_from_credit_code(code: str) -> str:
    return validate_credit_code(code)[8:17]


# ---- Registration number (注册号), 15 digits, ISO 7064 MOD 11,10 ------------------------------

def build_registration_number(division: str, sequence: int) -> str:
    """division (6) + '0' (enterprise) + sequence (7) + check digit."""
    if not 0 < sequence < 10**7:
        raise ValueError("sequence out of range")
    first14 = f"{division}0{sequence:07d}"
    return first14 + mod_11_10.calc_check_digit(first14)


def validate_registration_number(number: str) -> str:
    if len(number) != 15 or not number.isdigit() or not mod_11_10.is_valid(number):
        raise InvalidIdentifier("注册号不正确")
    return number
