"""Completeness and form checks of an application against the catalogue (一次性告知).

Every problem of one kind is reported at once: all malformed fields in one INVALID_ARGUMENT,
all missing materials in one FAILED_PRECONDITION.
"""

from __future__ import annotations

import re

from hall.v1 import catalogue_pb2, common_pb2, intake_pb2
from services.catalogue import Catalogue
from services.domain.identifiers import InvalidIdentifier, validate_resident_id
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound

_PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
MAX_FIELD_LENGTH = 2000


def check_submission(catalogue: Catalogue, req: intake_pb2.SubmitApplicationRequest) -> None:
    """Raise the typed error that describes everything wrong with `req`, or return."""
    if bool(req.matter_code) == bool(req.bundle_code):
        raise InvalidArgument(
            "exactly one of matter_code and bundle_code must be given",
            violations=[("matter_code", "give exactly one of matter_code or bundle_code")],
        )
    if req.bundle_code and catalogue.bundle(req.bundle_code) is None:
        raise NotFound(f"bundle {req.bundle_code} is not in the catalogue", resource_type="hall.v1.Bundle",
                       resource_name=req.bundle_code)
    matter = catalogue.matter(req.matter_code) if req.matter_code else None
    if req.matter_code and matter is None:
        raise NotFound(f"matter {req.matter_code} is not in the catalogue", resource_type="hall.v1.Matter",
                       resource_name=req.matter_code)

    violations: list[tuple[str, str]] = []
    if not req.request_id.strip():
        violations.append(("request_id", "必须提供请求编号（幂等键）"))
    elif len(req.request_id) > 128:
        violations.append(("request_id", "请求编号不得超过128个字符"))
    if not req.clerk_id.strip():
        violations.append(("clerk_id", "必须提供受理人员编号（首问负责）"))
    app = req.applicant
    if not app.name.strip():
        violations.append(("applicant.name", "申请人姓名不能为空"))
    if app.kind == common_pb2.Applicant.KIND_UNSPECIFIED:
        violations.append(("applicant.kind", "申请人类型不能为空"))
    try:
        validate_resident_id(app.id_number)
    except InvalidIdentifier as exc:
        violations.append(("applicant.id_number", str(exc)))
    if app.phone and not _PHONE.match(app.phone):
        violations.append(("applicant.phone", "联系电话格式不正确"))
    codes = {"matter_code": req.matter_code, "bundle_code": req.bundle_code}
    for f in catalogue.required_fields(**codes):
        if not req.fields.get(f.name, "").strip():
            violations.append((f"fields.{f.name}", f"必须填写：{f.label}"))
    for name, value in req.fields.items():
        if len(value) > MAX_FIELD_LENGTH:
            violations.append((f"fields.{name}", f"内容过长（不超过{MAX_FIELD_LENGTH}个字符）"))
    known = _known_materials(catalogue, **codes)
    for i, code in enumerate(req.materials):
        if code not in known:
            violations.append((f"materials[{i}]", f"本事项不需要材料 {code}"))
    if violations:
        raise InvalidArgument("申请信息有误，请一次性更正以下各项", violations=violations)

    if matter is not None and matter.status != catalogue_pb2.Matter.STATUS_IN_FORCE:
        raise FailedPrecondition("该事项当前不受理", violations=[("MATTER_NOT_IN_FORCE", matter.code, "事项未生效或已暂停")])
    handed_in = set(req.materials)
    missing = [m for m in catalogue.required_materials(**codes) if m.code not in handed_in]
    if missing:
        raise FailedPrecondition(
            "材料不齐全，一次性告知需补正的全部材料：" + "、".join(m.name for m in missing),
            violations=[("MISSING_MATERIAL", m.code, m.name) for m in missing],
        )


def _known_materials(catalogue: Catalogue, *, matter_code: str, bundle_code: str) -> set[str]:
    return {m.code for code in catalogue.matter_codes(matter_code=matter_code, bundle_code=bundle_code)
            for m in catalogue.matters[code].materials}
