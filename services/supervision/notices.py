"""What the applicant is told in writing: a special procedure whose time does not count
(行政许可法 第四十五条: 行政机关应当将所需时间书面告知申请人) and an extension (第四十二条)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from hall.v1 import approval_pb2, catalogue_pb2
from services.catalogue import Catalogue, limit_unit
from services.runtime import clock
from services.runtime.outbox import Outbox
from services.supervision import records
from services.supervision.models import NoticeRow

_UNITS = {"working": "个工作日", "natural": "日", "hours": "小时"}


def _add(session: Session, outbox: Outbox, row: NoticeRow) -> None:
    if session.get(NoticeRow, row.notice_id) is not None:
        return
    session.add(row)
    records.record(session, outbox, f"notice/{row.notice_id}", "notice.issued", case_id=row.case_id,
                   outcome=row.kind, detail=row.text, step_id=row.step_id, department=row.department)


def special_procedure(session: Session, outbox: Outbox, msg: approval_pb2.SpecialProcedureChanged,
                      spec: catalogue_pb2.SpecialProcedure, catalogue: Catalogue) -> None:
    matter = catalogue.matters.get(msg.matter_code)
    name = matter.name if matter is not None else msg.matter_code
    started = clock.local(clock.from_timestamp(msg.at)).date()
    expected = (f"，预计不超过{spec.limit.amount}{_UNITS[limit_unit(spec.limit).value]}"
                if spec.limit.amount else "")
    what = f"（{spec.description}）" if spec.description else ""
    text = (f"您申请的“{name}”需进行{spec.kind}{what}，自{started.isoformat()}起，{spec.kind}所需时间不计入"
            f"办理时限（《中华人民共和国行政许可法》第四十五条）{expected}。原因：{msg.detail or '见承办部门说明'}。")
    _add(session, outbox, NoticeRow(notice_id=f"procedure/{msg.procedure_id}", case_id=msg.case_id,
                                    step_id=msg.step_id, department=msg.department, kind="special_procedure",
                                    text=text, at=clock.from_timestamp(msg.at)))


def extension(session: Session, outbox: Outbox, *, extension_id: str, case_id: str, step_id: str, department: str,
              amount: int, reason: str, statutory_due: dt.date, at: dt.datetime) -> None:
    text = (f"经本中心负责人批准，您申请事项的办理期限延长{amount}个工作日（《中华人民共和国行政许可法》"
            f"第四十二条），法定期限延至{statutory_due.isoformat()}。延期理由：{reason}。")
    _add(session, outbox, NoticeRow(notice_id=f"extension/{extension_id}", case_id=case_id, step_id=step_id,
                                    department=department, kind="extension", text=text, at=at))
