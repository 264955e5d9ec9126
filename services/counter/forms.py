"""An application written by a person (YAML or JSON, human units) as the contract's request.

A file names its matter or bundle, the applicant, the materials handed in and the form's fields:

    bundle: 150602-YJS-0001          # or matter: 150602-GH-0001
    applicant: {kind: 个人, name: 王建军, id_number: "150602198805050011", phone: "13904770123"}
    materials: [M-GS-APPLY, M-GS-ARTICLES]
    fields:
      company_name: 东胜区鑫达商贸有限公司
      registered_capital: 50万      # yuan (or 注册资本: 500000); registered_capital_fen: fen
      plot_ratio: 2.5               # a ratio; plot_ratio_x100: 250
      height: 21                    # metres; height_cm: 2100

A field is named by its contract name (value in the contract's unit), by that name without its
unit suffix, or by its label (both in the unit people write: yuan, metres, a plain ratio). The
conversion is exact: a value that does not convert (2.555 metres) is refused here, with the field.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from hall.v1 import catalogue_pb2, common_pb2, intake_pb2
from services.domain.money import parse_yuan

F = catalogue_pb2.FormField
_SUFFIXES = {F.UNIT_FEN: "_fen", F.UNIT_CENTIMETRE: "_cm", F.UNIT_HUNDREDTH: "_x100"}
_KINDS = {"person": common_pb2.Applicant.KIND_PERSON, "个人": common_pb2.Applicant.KIND_PERSON,
          "organisation": common_pb2.Applicant.KIND_ORGANISATION, "organization": common_pb2.Applicant.KIND_ORGANISATION,
          "单位": common_pb2.Applicant.KIND_ORGANISATION, "企业": common_pb2.Applicant.KIND_ORGANISATION}


class FormError(ValueError):
    """The file cannot be read as an application; the message names what and where."""


def read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormError(f"读不到申请文件 {path}：{exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise FormError(f"申请文件 {path} 格式有误：{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise FormError(f"申请文件 {path} 应为键值对（matter 或 bundle、applicant、materials、fields）")
    return data


def to_contract(field: catalogue_pb2.FormField, value: Any, *, human: bool) -> str:
    """`value` as the contract's string: converted from the unit people write when `human`."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bool, list, dict)) or value is None:
        raise FormError(f"{field.label}（{field.name}）的值 {value!r} 不是一个值")
    if field.type != F.TYPE_QUANTITY or not human:
        return str(value)
    try:
        if field.unit == F.UNIT_FEN:
            return str(parse_yuan(value))
        scaled = Decimal(str(value).strip().removesuffix("米")) * 100
    except (ValueError, InvalidOperation):
        raise FormError(f"{field.label}（{field.name}）的值 {value!r} 不是数值") from None
    if scaled != scaled.to_integral_value():
        raise FormError(f"{field.label}（{field.name}）最多两位小数：{value!r}")
    return str(int(scaled))


def request_of(data: dict[str, Any], declared: list[catalogue_pb2.FormField], *, clerk_id: str,
               request_id: str = "", ticket_id: str = "") -> intake_pb2.SubmitApplicationRequest:
    """The request a file describes, against the fields its matter declares (GetMatter)."""
    unknown = sorted(set(data) - {"matter", "bundle", "applicant", "materials", "fields", "request_id", "ticket"})
    if unknown:
        raise FormError("申请文件有不认识的项：" + "、".join(unknown))
    applicant = data.get("applicant") or {}
    if not isinstance(applicant, dict):
        raise FormError("applicant 应为键值对（kind、name、id_number、phone）")
    kind = str(applicant.get("kind", "person")).lower()
    if kind not in _KINDS:
        raise FormError(f"applicant.kind 应为 个人 或 单位（person、organisation），不是 {kind}")
    by_name: dict[str, tuple[catalogue_pb2.FormField, bool]] = {}
    for f in declared:
        by_name[f.name] = (f, False)
        by_name[f.label] = (f, True)
        suffix = _SUFFIXES.get(f.unit, "")
        if suffix and f.name.endswith(suffix):
            by_name[f.name.removesuffix(suffix)] = (f, True)
    fields: dict[str, str] = {}
    for key, value in (data.get("fields") or {}).items():
        field, human = by_name.get(str(key), (None, False))
        if field is None:
            fields[str(key)] = str(value)  # intake names it in its answer, with everything else
            continue
        fields[field.name] = to_contract(field, value, human=human)
    materials = data.get("materials") or []
    if not isinstance(materials, list):
        raise FormError("materials 应为材料编码的列表")
    return intake_pb2.SubmitApplicationRequest(
        request_id=request_id or str(data.get("request_id") or uuid.uuid4().hex),
        matter_code=str(data.get("matter") or ""), bundle_code=str(data.get("bundle") or ""),
        applicant=common_pb2.Applicant(kind=_KINDS[kind], name=str(applicant.get("name", "")),
                                       id_number=str(applicant.get("id_number", "")),
                                       phone=str(applicant.get("phone", ""))),
        materials=[str(m) for m in materials], fields=fields, clerk_id=clerk_id,
        ticket_id=ticket_id or str(data.get("ticket") or ""))
