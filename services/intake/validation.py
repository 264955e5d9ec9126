"""Completeness and form checks of an application against the catalogue (一次性告知).

Everything wrong comes back in one answer: every malformed field (its type's rule in fields.py)
and every missing material, so the applicant comes back once. A value that passes is returned in
its stored form (identifiers normalised), which is what departments receive: a format error never
reaches one.
"""

from __future__ import annotations

from hall.v1 import catalogue_pb2, common_pb2, intake_pb2
from services.catalogue import Catalogue
from services.domain.identifiers import InvalidIdentifier, validate_credit_code, validate_resident_id
from services.intake import fields as field_rules
from services.runtime.errors import FailedPrecondition, IncompleteApplication, InvalidArgument, NotFound

F = catalogue_pb2.FormField
_APPLICANT_NAME = F(name="applicant.name", label="申请人姓名", type=F.TYPE_PERSON_NAME)
_ORGANISATION_NAME = F(name="applicant.name", label="申请单位名称", type=F.TYPE_TEXT, min_length=2, max_length=100)
_PHONE = F(name="applicant.phone", label="联系电话", type=F.TYPE_PHONE)


def check_submission(catalogue: Catalogue, req: intake_pb2.SubmitApplicationRequest) -> intake_pb2.SubmitApplicationRequest:
    """The request in its stored form, or the typed error that describes everything wrong with it."""
    if bool(req.matter_code) == bool(req.bundle_code):
        raise InvalidArgument(
            "必须且只能填写事项编码或一件事编码之一",
            violations=[("matter_code", "必须且只能填写 matter_code 或 bundle_code 之一")],
        )
    if req.bundle_code and catalogue.bundle(req.bundle_code) is None:
        raise NotFound(f"一件事 {req.bundle_code} 不在目录中", resource_type="hall.v1.Bundle",
                       resource_name=req.bundle_code)
    matter = catalogue.matter(req.matter_code) if req.matter_code else None
    if req.matter_code and matter is None:
        raise NotFound(f"事项 {req.matter_code} 不在目录中", resource_type="hall.v1.Matter",
                       resource_name=req.matter_code)
    if matter is not None and matter.status != catalogue_pb2.Matter.STATUS_IN_FORCE:
        raise FailedPrecondition("该事项当前不受理", violations=[("MATTER_NOT_IN_FORCE", matter.code, "事项未生效或已暂停")])

    out = intake_pb2.SubmitApplicationRequest()
    out.CopyFrom(req)
    violations: list[tuple[str, str]] = []

    def put(path: str, rule: catalogue_pb2.FormField, raw: str, assign: object) -> None:
        try:
            assign(field_rules.check(rule, raw))  # type: ignore[operator]
        except field_rules.FieldProblem as exc:
            violations.append((path, str(exc)))

    if not req.request_id.strip():
        violations.append(("request_id", "必须提供请求编号（幂等键）"))
    elif len(req.request_id) > 128:
        violations.append(("request_id", "请求编号不得超过128个字符"))
    if not req.clerk_id.strip():
        violations.append(("clerk_id", "必须提供受理人员编号"))
    elif len(req.clerk_id) > 64:
        violations.append(("clerk_id", "受理人员编号不得超过64个字符"))
    if len(req.ticket_id) > 64:
        violations.append(("ticket_id", "票号编号不得超过64个字符"))
    app, stored = req.applicant, out.applicant
    organisation = app.kind == common_pb2.Applicant.KIND_ORGANISATION
    if app.kind == common_pb2.Applicant.KIND_UNSPECIFIED:
        violations.append(("applicant.kind", "申请人类型不能为空（个人或单位）"))
    if not app.name.strip():
        violations.append(("applicant.name", "申请人姓名不能为空"))
    else:
        put("applicant.name", _ORGANISATION_NAME if organisation else _APPLICANT_NAME, app.name,
            lambda v: setattr(stored, "name", v))
    try:
        # A person by their resident identity number; an organisation by its credit code.
        stored.id_number = (validate_credit_code if organisation else validate_resident_id)(app.id_number)
    except InvalidIdentifier as exc:
        violations.append(("applicant.id_number", str(exc)))
    if app.phone.strip():
        put("applicant.phone", _PHONE, app.phone, lambda v: setattr(stored, "phone", v))

    codes = {"matter_code": req.matter_code, "bundle_code": req.bundle_code}
    declared = {f.name: f for f in catalogue.form_fields(**codes)}
    for name, f in declared.items():
        raw = req.fields.get(name, "")
        if not raw.strip():
            if f.required:
                violations.append((f"fields.{name}", f"必须填写：{f.label}"))
            continue
        put(f"fields.{name}", f, raw, lambda v, name=name: out.fields.__setitem__(name, v))
    for name in sorted(set(req.fields) - set(declared)):
        violations.append((f"fields.{name[:64]}", "本事项没有这一填写项，请核对"))
    known = _known_materials(catalogue, **codes)
    for i, code in enumerate(req.materials):
        if code not in known:
            violations.append((f"materials[{i}]", f"本事项不需要材料 {code[:64]}"))

    handed_in = set(req.materials)
    missing = [m for m in catalogue.required_materials(**codes) if m.code not in handed_in]
    if violations or missing:
        parts = []
        if violations:
            parts.append(f"{len(violations)}项填写有误")
        if missing:
            parts.append("缺少材料：" + "、".join(m.name for m in missing))
        raise IncompleteApplication("申请未受理，一次性告知：" + "；".join(parts), violations=violations,
                                    missing=[("MISSING_MATERIAL", m.code, m.name) for m in missing])
    return out


def _known_materials(catalogue: Catalogue, *, matter_code: str, bundle_code: str) -> set[str]:
    return {m.code for code in catalogue.matter_codes(matter_code=matter_code, bundle_code=bundle_code)
            for m in catalogue.matters[code].materials}
