"""The rule of each form field type (hall.v1.FormField.Type), as intake checks it before acceptance.

`check(field, raw)` answers the value as it is stored and sent on (identifiers normalised,
numbers without spaces or full-width digits), or raises FieldProblem with the sentence a clerk
reads. `describe(field)` is the same rule in words, for the one-time notice: one home for both,
so the notice never promises what the check does not do.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

from hall.v1 import catalogue_pb2
from services.domain import identifiers
from services.domain.money import format_yuan
from services.runtime import clock

F = catalogue_pb2.FormField
# A value longer than this is refused whatever the catalogue says (a string of any type).
MAX_LENGTH = 2000
_TEXT_DEFAULT_MAX = 200
_PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
# Chinese names: Han characters, with the middle dot of minority and transliterated names (·);
# or a name in Latin letters, with spaces, hyphens and apostrophes.
_HAN_NAME = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef]+(·[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef]+)*$")
_LATIN_NAME = re.compile(r"^[A-Za-z]+([ '\-.][A-Za-z]+)*$")
_INTEGER = re.compile(r"^[+-]?\d+$")


class FieldProblem(ValueError):
    """The value breaks its field's rule; the message is the sentence for the notice."""


def _ascii(raw: str) -> str:
    """Full-width digits and signs as ASCII, and no white space (a number or a code)."""
    return "".join(unicodedata.normalize("NFKC", raw).split())


def _control(raw: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in raw if c not in "\n\t")


def human(field: catalogue_pb2.FormField, value: int) -> str:
    """A contract value in the unit people write: yuan, metres, a plain ratio."""
    if field.unit == F.UNIT_FEN:
        return format_yuan(value)
    if field.unit == F.UNIT_CENTIMETRE:
        return f"{value / 100:g}米"
    if field.unit == F.UNIT_HUNDREDTH:
        return f"{value / 100:.2f}"
    return str(value)


def length_bounds(field: catalogue_pb2.FormField) -> tuple[int, int]:
    """(minimum, maximum) characters: the catalogue's, else the type's own."""
    defaults = {F.TYPE_PERSON_NAME: (2, 30), F.TYPE_TEXT: (1, _TEXT_DEFAULT_MAX), F.TYPE_CODE: (1, 64)}
    low, high = defaults.get(field.type, (1, 64))
    return field.min_length or low, min(field.max_length or high, MAX_LENGTH)


def check(field: catalogue_pb2.FormField, raw: str, *, today: dt.date | None = None) -> str:
    """The stored form of `raw` under `field`'s rule, or FieldProblem."""
    label = field.label
    value = raw.strip()
    low, high = length_bounds(field)
    if _control(value):
        raise FieldProblem(f"{label}含有不可见的控制字符")
    if len(value) > high:
        raise FieldProblem(f"{label}不得超过{high}个字符（现为{len(value)}个）")
    t = field.type
    if t == F.TYPE_TEXT:
        if len(value) < low:
            raise FieldProblem(f"{label}至少{low}个字符")
        return value
    if t == F.TYPE_PERSON_NAME:
        name = unicodedata.normalize("NFKC", value).replace("•", "·").replace("・", "·")
        if not (_HAN_NAME.match(name) or _LATIN_NAME.match(name)):
            raise FieldProblem(f"{label}应为汉字姓名（少数民族姓名可用“·”分隔）或拉丁字母姓名")
        if len(name) < low:
            raise FieldProblem(f"{label}至少{low}个字")
        return name
    if t in (F.TYPE_INTEGER, F.TYPE_QUANTITY):
        number = _ascii(value)
        if not _INTEGER.match(number):
            what = "整数" if t == F.TYPE_INTEGER else f"整数（单位：{_UNIT_NAMES[field.unit]}）"
            raise FieldProblem(f"{label}应为{what}")
        n = int(number)
        if (field.minimum or field.maximum) and not field.minimum <= n <= field.maximum:
            raise FieldProblem(f"{label}应在{human(field, field.minimum)}至{human(field, field.maximum)}之间")
        return str(n)
    if t == F.TYPE_DATE:
        try:
            day = dt.date.fromisoformat(_ascii(value))
        except ValueError:
            raise FieldProblem(f"{label}应为日期，格式 YYYY-MM-DD") from None
        if field.not_after_today and day > (today or clock.today()):
            raise FieldProblem(f"{label}不能晚于今天")
        return day.isoformat()
    if t == F.TYPE_CHOICE:
        code = identifiers.normalise(value)
        for choice in field.choices:
            if code == choice.code.upper() or value == choice.label:
                return choice.code
        raise FieldProblem(f"{label}应为以下之一：" + "、".join(f"{c.code} {c.label}" for c in field.choices))
    if t == F.TYPE_RESIDENT_ID:
        return _identifier(label, identifiers.validate_resident_id, value)
    if t == F.TYPE_CREDIT_CODE:
        return _identifier(label, identifiers.validate_credit_code, value)
    if t == F.TYPE_ORG_CODE:
        return _identifier(label, identifiers.validate_org_code, value)
    if t == F.TYPE_PHONE:
        phone = _ascii(value)
        if not _PHONE.match(phone):
            raise FieldProblem(f"{label}应为11位手机号码或带区号的固定电话")
        return phone
    if t == F.TYPE_CODE:
        code = identifiers.normalise(value)
        if not re.fullmatch(field.pattern, code):
            raise FieldProblem(f"{label}格式不正确" + (f"（{field.description}）" if field.description else ""))
        return code
    raise FieldProblem(f"{label}的类型未在目录中声明")  # the loader refuses such a catalogue


def _identifier(label: str, validate: Callable[[str], str], value: str) -> str:
    try:
        return validate(value)
    except identifiers.InvalidIdentifier as exc:
        raise FieldProblem(f"{label}：{exc}") from None


_UNIT_NAMES = {F.UNIT_FEN: "分", F.UNIT_CENTIMETRE: "厘米", F.UNIT_HUNDREDTH: "×100", F.UNIT_UNSPECIFIED: ""}
_HUMAN_UNITS = {F.UNIT_FEN: "元", F.UNIT_CENTIMETRE: "米", F.UNIT_HUNDREDTH: "", F.UNIT_UNSPECIFIED: ""}


def describe(field: catalogue_pb2.FormField) -> str:
    """The rule in words (the one-time notice's column 填写要求)."""
    t = field.type
    low, high = length_bounds(field)
    if t == F.TYPE_TEXT:
        return f"文字，{low}至{high}个字符"
    if t == F.TYPE_PERSON_NAME:
        return "姓名，汉字（少数民族姓名用“·”分隔）或拉丁字母"
    if t in (F.TYPE_INTEGER, F.TYPE_QUANTITY):
        unit = f"，以{_HUMAN_UNITS[field.unit]}填写" if _HUMAN_UNITS.get(field.unit) else ""
        bounds = f"，{human(field, field.minimum)}至{human(field, field.maximum)}" if field.minimum or field.maximum else ""
        return ("整数" if t == F.TYPE_INTEGER else "数值") + unit + bounds
    if t == F.TYPE_DATE:
        return "日期 YYYY-MM-DD" + ("，不晚于当天" if field.not_after_today else "")
    if t == F.TYPE_CHOICE:
        return "选填其一：" + "、".join(f"{c.code} {c.label}" for c in field.choices)
    if t == F.TYPE_RESIDENT_ID:
        return "18位公民身份号码"
    if t == F.TYPE_CREDIT_CODE:
        return "18位统一社会信用代码"
    if t == F.TYPE_ORG_CODE:
        return "9位组织机构代码（可写作 12345678-9）"
    if t == F.TYPE_PHONE:
        return "手机号码或带区号的固定电话"
    if t == F.TYPE_CODE:
        return field.description or "编号"
    return ""
