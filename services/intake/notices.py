"""The one-time notice (一次性告知书): rendered from the catalogue, stored when a submission is refused.

The blank notice of a matter (what the applicant reads online before coming) and the notice a
refused submission gets are one rendering: the same materials, procedure, time limits and fees,
the latter with the problems listed first. Stored notices are kept as they were issued (the
catalogue may change afterwards), keyed by a hash of the request, so the same refused request
gets the same notice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import LargeBinary, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from hall.v1 import catalogue_pb2, common_pb2, intake_pb2
from services.catalogue import Catalogue
from services.domain.money import format_yuan
from services.intake import fields as field_rules
from services.runtime import clock
from services.runtime.db import Base, UTCDateTime
from services.runtime.errors import IncompleteApplication, InvalidArgument, NotFound

P = intake_pb2.NoticeProblem
M = catalogue_pb2.Material
_FORMS = {M.FORM_PAPER: "纸质", M.FORM_ELECTRONIC: "电子", M.FORM_PAPER_OR_ELECTRONIC: "纸质或电子", M.FORM_UNSPECIFIED: ""}
_UNITS = {common_pb2.TimeLimit.UNIT_WORKING_DAY: "个工作日", common_pb2.TimeLimit.UNIT_NATURAL_DAY: "日",
          common_pb2.TimeLimit.UNIT_HOUR: "小时", common_pb2.TimeLimit.UNIT_UNSPECIFIED: "个工作日"}
TITLE = "一次性告知书"


class NoticeRow(Base):
    __tablename__ = "intake_notices"

    notice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # hall.v1.OneTimeNotice


def limit_text(limit: common_pb2.TimeLimit) -> str:
    return f"{limit.amount}{_UNITS.get(limit.unit, '个工作日')}"


def render(catalogue: Catalogue, *, matter_code: str = "", bundle_code: str = "",
           error: IncompleteApplication | None = None, request: intake_pb2.SubmitApplicationRequest | None = None,
           notice_id: str = "", issued_at: datetime | None = None) -> intake_pb2.OneTimeNotice:
    """The notice of a matter or bundle; with `error`, of that refused `request`, stored under
    `notice_id` at `issued_at`."""
    codes = {"matter_code": matter_code, "bundle_code": bundle_code}
    subject = catalogue.bundles[bundle_code] if bundle_code else catalogue.matters[matter_code]
    matters = [catalogue.matters[c] for c in catalogue.matter_codes(**codes)]
    missing = {subject_code for _, subject_code, _ in (error.missing if error else [])}
    notice = intake_pb2.OneTimeNotice(
        title=TITLE, matter_code=matter_code, bundle_code=bundle_code, subject=subject.name,
        catalogue_version=catalogue.version,
        time_limit=f"承诺{limit_text(subject.promised_limit)}，法定{limit_text(subject.statutory_limit)}",
        place=matters[0].place, hours=matters[0].hours, consultation=matters[0].consultation_channel)
    if error is not None:
        notice.problems.extend(P(kind=P.KIND_FIELD, subject=path, description=text) for path, text in error.violations)
        notice.problems.extend(P(kind=P.KIND_MISSING_MATERIAL, subject=code, description=f"缺少：{name}")
                               for _, code, name in error.missing)
    for m in catalogue.required_materials(**codes):
        notice.materials.add(code=m.code, name=m.name, copies=m.copies, form=m.form, required=True,
                             acceptance_standard=m.acceptance_standard, missing=m.code in missing)
    for f in catalogue.form_fields(**codes):
        notice.fields.add(name=f.name, label=f.label, required=f.required, rule=field_rules.describe(f))
    if bundle_code:
        notice.procedure.append("一窗受理：窗口一次收齐材料，各部门信息共享、不重复提交")
        for step in catalogue.bundles[bundle_code].steps:
            matter = catalogue.matters[step.matter]
            names = {st.id: catalogue.matters[st.matter].name for st in catalogue.bundles[bundle_code].steps}
            after = "（" + "、".join(names[a] for a in step.after) + "之后）" if step.after else ""
            notice.procedure.append(f"{catalogue.departments[matter.department].name}：{matter.name}{after}，"
                                    f"{limit_text(step.limit)}")
        notice.procedure.append("统一出件：办结后在窗口一次领取全部证照")
    else:
        notice.procedure.extend(f"{p.name}：{p.description}" if p.description else p.name for p in matters[0].procedure)
    fees = [f"{i.name} {format_yuan(i.standard.fen)}（{i.basis}）" for m in matters if m.fees.charged for i in m.fees.items]
    notice.fees = "；".join(fees) if fees else "不收费"
    if request is not None:
        notice.applicant_name, notice.clerk_id, notice.request_id = request.applicant.name, request.clerk_id, request.request_id
    notice.notice_id = notice_id
    if issued_at is not None:
        notice.issued_at.CopyFrom(clock.to_timestamp(issued_at))
    notice.text = text_of(notice)
    return notice


def text_of(n: intake_pb2.OneTimeNotice) -> str:
    """The printable notice (and the page published online): plain lines, in the order read aloud."""
    lines = [f"{n.title}", f"事项：{n.subject}（{n.bundle_code or n.matter_code}，目录版本 {n.catalogue_version}）"]
    if n.applicant_name:
        lines.append(f"申请人：{n.applicant_name}")
    if n.problems:
        lines += ["", "经审查，您的申请有以下问题，请一次性补正后再次提交："]
        lines += [f"  {i}. {p.description}" + (f"（{p.subject}）" if p.kind == P.KIND_FIELD else "")
                  for i, p in enumerate(n.problems, 1)]
    lines += ["", "一、需提交的材料："]
    for i, m in enumerate(n.materials, 1):
        mark = "【未提交】" if m.missing else ""
        form = f"，{_FORMS[m.form]}" if _FORMS.get(m.form) else ""
        lines.append(f"  {i}. {m.name}{mark}（{m.copies or 1}份{form}）" + (f"：{m.acceptance_standard}" if m.acceptance_standard else ""))
    if n.fields:
        lines += ["", "二、需填写的内容："]
        lines += [f"  {i}. {f.label}{'（必填）' if f.required else ''}：{f.rule}" for i, f in enumerate(n.fields, 1)]
    lines += ["", "三、办理流程："] + [f"  {i}. {p}" for i, p in enumerate(n.procedure, 1)]
    lines += ["", f"四、办理时限：{n.time_limit}", f"五、收费：{n.fees}"]
    if n.place or n.hours:
        lines.append(f"六、办理地点与时间：{n.place} {n.hours}".rstrip())
    if n.consultation:
        lines.append(f"咨询：{n.consultation}")
    if n.issued_at.seconds:
        lines += ["", f"告知日期：{clock.local(clock.from_timestamp(n.issued_at)):%Y年%m月%d日 %H:%M}"
                      + (f"    窗口工作人员：{n.clerk_id}" if n.clerk_id else "")]
    if n.notice_id:
        lines.append(f"告知书编号：{n.notice_id}")
    return "\n".join(lines)


def notice_id_of(req: intake_pb2.SubmitApplicationRequest) -> str:
    """The same refused request (id and content) gets the same notice."""
    return hashlib.sha256(req.SerializeToString(deterministic=True)).hexdigest()[:24]


class Notices:
    def __init__(self, sessions: sessionmaker[Session], catalogue: Catalogue) -> None:
        self._sessions = sessions
        self._catalogue = catalogue

    def issue(self, req: intake_pb2.SubmitApplicationRequest, error: IncompleteApplication) -> intake_pb2.OneTimeNotice:
        """Store the notice of a refused submission (once per request) and put its id on `error`."""
        notice = render(self._catalogue, matter_code=req.matter_code, bundle_code=req.bundle_code,
                        error=error, request=req, notice_id=notice_id_of(req), issued_at=clock.now())
        try:
            with self._sessions() as session, session.begin():
                session.add(NoticeRow(notice_id=notice.notice_id, request_id=req.request_id[:128],
                                      issued_at=clock.from_timestamp(notice.issued_at), body=notice.SerializeToString()))
        except IntegrityError:
            notice = self.get(notice.notice_id)  # issued already: the first issue stands
        error.notice_id = notice.notice_id
        return notice

    def get(self, notice_id: str) -> intake_pb2.OneTimeNotice:
        with self._sessions() as session:
            body = session.scalar(select(NoticeRow.body).where(NoticeRow.notice_id == notice_id))
        if body is None:
            raise NotFound(f"一次性告知书 {notice_id} 不存在", resource_type="hall.v1.OneTimeNotice", resource_name=notice_id)
        return intake_pb2.OneTimeNotice.FromString(body)

    def lookup(self, request: intake_pb2.GetNoticeRequest) -> intake_pb2.OneTimeNotice:
        given = [n for n in ("notice_id", "matter_code", "bundle_code") if getattr(request, n)]
        if len(given) != 1:
            raise InvalidArgument("必须且只能填写告知书编号、事项编码或一件事编码之一",
                                  violations=[("notice_id", "必须且只能填写 notice_id、matter_code、bundle_code 之一")])
        if request.notice_id:
            return self.get(request.notice_id)
        if request.matter_code and request.matter_code not in self._catalogue.matters:
            raise NotFound(f"事项 {request.matter_code} 不在目录中", resource_type="hall.v1.Matter",
                           resource_name=request.matter_code)
        if request.bundle_code and request.bundle_code not in self._catalogue.bundles:
            raise NotFound(f"一件事 {request.bundle_code} 不在目录中", resource_type="hall.v1.Bundle",
                           resource_name=request.bundle_code)
        return render(self._catalogue, matter_code=request.matter_code, bundle_code=request.bundle_code)
