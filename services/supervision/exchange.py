"""The national exchange tables for the cases accepted in a period: acceptance, process steps,
special procedures and results, with the columns of data/exchange_schema.json (its tables and
their property order). Personal data is what supervision holds: masked already."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2, common_pb2
from hall.v1 import inspection_pb2 as ipb
from services.catalogue import Catalogue
from services.runtime import clock
from services.supervision import evaluations, reports, texts
from services.supervision.models import CaseRow, EvaluationRow, ProcedureRow, StepRow
from services.supervision.supervisor import Facts, Supervisor, steps_of

SCHEMA_FILE = Path(__file__).with_name("data") / "exchange_schema.json"
ACTIONS: dict[int, str] = {common_pb2.STEP_STATUS_DISPATCHED: "办理中", common_pb2.STEP_STATUS_PENDING: "办理中",
           common_pb2.STEP_STATUS_APPROVED: "准予", common_pb2.STEP_STATUS_REFUSED: "不予",
           common_pb2.STEP_STATUS_CANCELLED: "撤销", common_pb2.STEP_STATUS_INCIDENT: "故障"}


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def columns(table: str) -> list[str]:
    return list(schema()["tables"][table]["properties"])


def _t(value: dt.datetime | None) -> str:
    return clock.local(value).isoformat(timespec="seconds") if value is not None else ""


def _certificate_number(results: dict[str, str]) -> str:
    """The step's number among its results (…_number first, else …_code)."""
    for suffix in ("_number", "_code"):
        for key in sorted(results):
            if key.endswith(suffix) or key == suffix.lstrip("_"):
                return results[key]
    return ""


def export(session: Session, sup: Supervisor, req: ipb.ExportExchangeRequest) -> ipb.ExportExchangeResponse:
    start, end = reports.period(req.from_date, req.to_date)
    cases = list(session.scalars(select(CaseRow).where(CaseRow.accepted_at >= start, CaseRow.accepted_at < end)
                                 .order_by(CaseRow.accepted_at, CaseRow.case_id)))
    ids = [c.case_id for c in cases]
    steps = steps_of(session, ids)
    facts = Facts.load(session, ids)
    rated: dict[str, EvaluationRow] = {}
    if ids:
        for ev in session.scalars(select(EvaluationRow).where(EvaluationRow.case_id.in_(ids),
                                                               EvaluationRow.visit_id == "")):
            rated[ev.case_id] = ev
    tables: dict[str, list[dict[str, str]]] = {name: [] for name in schema()["tables"]}
    now = clock.now()
    for case in cases:
        catalogue = sup.catalogue(case.catalogue_version)
        c = sup.clocks_from(case, steps.get(case.case_id, []), facts, now)
        tables["acceptance"].append({
            "case_number": case.case_id, "matter_code": case.bundle_code or case.matter_code,
            "catalogue_version": case.catalogue_version, "applicant_name": case.applicant_name_masked or "（未提供）",
            "applicant_id": case.applicant_id_masked, "accepting_department": texts.department_name(catalogue, ""),
            "clerk_id": case.clerk_id, "applied_at": _t(case.accepted_at), "accepted_at": _t(case.accepted_at),
            "promised_at": _t(c.ledger.promised.at)})
        names = {}
        for s in steps.get(case.case_id, []):
            matter = catalogue.matters.get(s.matter_code)
            names[s.step_id] = matter.name if matter is not None else s.step_id
            if s.started_at is None:
                continue
            opinion = "；".join(s.reasons or []) or "；".join(f"{k}={v}" for k, v in sorted((s.results or {}).items()))
            tables["process"].append({
                "case_number": case.case_id, "step_name": names[s.step_id],
                "department": texts.department_name(catalogue, s.department), "action": ACTIONS.get(s.status, "办理中"),
                "started_at": _t(s.started_at), "ended_at": _t(s.ended_at), "opinion": opinion,
                "officer_id": s.officer_id})
        for p in sorted(facts.procedures.get(case.case_id, []), key=lambda p: p.started_at):
            tables["special_procedure"].append(_procedure(case, p, names))
        if case.ended_at is not None:
            tables["result"] += _results(case, steps.get(case.case_id, []), rated.get(case.case_id), catalogue)
    out = ipb.ExportExchangeResponse(schema_version=str(schema()["version"]))
    for name, rows in tables.items():
        cols = columns(name)
        out.tables.add(name=name, columns=cols, rows=[ipb.ExportRow(values=[r[c] for c in cols]) for r in rows])
    return out


def _results(case: CaseRow, steps: list[StepRow], ev: EvaluationRow | None, catalogue: Catalogue) -> list[dict[str, str]]:
    """One row per certificate issued (a refused or withdrawn case: one row, no certificate)."""
    satisfaction = evaluations.WORDS[ev.level] if ev is not None and ev.state != ipb.EVALUATION_STATE_ANNULLED else ""
    base = {"case_number": case.case_id, "completed_at": _t(case.ended_at),
            "outcome": texts.CASE_OUTCOME.get(case.status, ""), "satisfaction": satisfaction}
    if case.status != approval_pb2.CASE_STATUS_COMPLETED:
        return [{**base, "certificate_name": "", "certificate_number": ""}]
    out = []
    for s in steps:
        matter = catalogue.matters.get(s.matter_code)
        if s.status == common_pb2.STEP_STATUS_APPROVED and matter is not None:
            out.append({**base, "certificate_name": matter.result.certificate_name,
                        "certificate_number": _certificate_number(s.results or {})})
    return out


def _procedure(case: CaseRow, p: ProcedureRow, names: dict[str, str]) -> dict[str, str]:
    return {"case_number": case.case_id, "step_name": names.get(p.step_id, p.step_id), "kind": p.kind,
            "reason": p.reason, "started_at": _t(p.started_at), "ended_at": _t(p.ended_at), "result": p.result,
            "counts_toward_limit": "是" if p.counts else "否"}
