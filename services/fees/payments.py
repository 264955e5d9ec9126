"""One window collects every fee: bills, payments, receipts, reversals, the day's reconciliation.

- A bill per accepted application, priced from its `case.submitted` message under the catalogue
  version it was accepted under (services/fees/pricing.py), stored as priced.
- One payment per application, for its whole bill, idempotent on the client's key; its receipt
  is issued in the same transaction, numbered from the year's gapless counter (the row stays
  locked until commit, so several counters and replicas never share or skip a number), and
  signed (signing.py).
- Corrections are reversing receipts that point to the original; nothing is updated or deleted,
  and no line is refunded beyond what was paid for it. Refunds of one application are serialised
  by its bill's row lock.
- The day's reconciliation sums the receipts issued that day (Shanghai) per department.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import grpc
import structlog
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, common_pb2, fees_pb2
from services.catalogue import Catalogue
from services.catalogue.pricing import payment_stage, quote, subtotals
from services.domain import money
from services.fees.models import BillRow, FeesOutbox, IssuedReceiptRow, LegacyReceiptRow, PaymentRow, ReceiptCounter
from services.fees.signing import Signer, verify
from services.runtime import clock, context, db, topology
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, ServiceError
from services.runtime.outbox import Outbox

log = structlog.get_logger(__name__)
M = fees_pb2.PaymentMethod
K = fees_pb2.ReceiptKind
BILL_WAIT_S = 3.0
MAX_FEN = 10**14  # a trillion yuan: anything above is a typing error, not a fee
_NEXT_NUMBER = db.next_number(ReceiptCounter.__table__, "year", "last")  # type: ignore[arg-type]
_NON_TAX_NOTICE = re.compile(r"^\d{20}$")
_TRANSFER_REFERENCE = re.compile(r"^[0-9A-Za-z\-]{6,40}$")
_METHOD_WORDS = {M.PAYMENT_METHOD_CASH: "现金", M.PAYMENT_METHOD_BANK_CARD: "银行卡",
                 M.PAYMENT_METHOD_BANK_TRANSFER: "银行转账", M.PAYMENT_METHOD_NON_TAX_NOTICE: "非税缴款通知书"}


class KeyReused(ServiceError):
    def __init__(self, key: str) -> None:
        super().__init__(f"幂等键 {key[:40]} 已用于另一笔不同的业务，请换一个", grpc.StatusCode.ALREADY_EXISTS)


def _fingerprint(message: Any, without: str) -> str:
    clone = type(message)()
    clone.CopyFrom(message)
    clone.ClearField(without)
    return hashlib.sha256(clone.SerializeToString(deterministic=True)).hexdigest()


_BILLS: Table = BillRow.__table__  # type: ignore[assignment]
_PAYMENTS: Table = PaymentRow.__table__  # type: ignore[assignment]
# The bill, locked (one payment or refund of an application at a time), with the payment made
# under this client key and the application's payment, if any: one round trip.
_LOCK_BILL = (select(_BILLS.c.case_id, _BILLS.c.payer_name, _BILLS.c.catalogue_version, _BILLS.c.quote,
                     _BILLS.c.total_fen, _BILLS.c.ended,
                     select(_PAYMENTS.c.receipt_number).where(_PAYMENTS.c.client_key == bindparam("client_key"))
                     .scalar_subquery().label("key_receipt"),
                     select(_PAYMENTS.c.fingerprint).where(_PAYMENTS.c.client_key == bindparam("client_key"))
                     .scalar_subquery().label("key_fingerprint"),
                     select(_PAYMENTS.c.receipt_number).where(_PAYMENTS.c.application_id == _BILLS.c.application_id)
                     .scalar_subquery().label("paid_receipt"))
              .where(_BILLS.c.application_id == bindparam("application_id")).with_for_update(of=_BILLS))
_INSERT_RECEIPT = insert(IssuedReceiptRow.__table__).inline()  # type: ignore[arg-type]
_INSERT_PAYMENT = insert(_PAYMENTS).inline()
# A redelivered case.submitted finds its bill there already: nothing happens.
_INSERT_BILLS = db.per_dialect(lambda insert: insert(BillRow.__table__).on_conflict_do_nothing(
    index_elements=["application_id"]))


class Fees:
    def __init__(self, sessions: sessionmaker[Session], catalogue: Catalogue, signer: Signer,
                 versions: dict[str, Catalogue] | None = None) -> None:
        self._sessions = sessions
        self._catalogue = catalogue
        self._versions = versions or {catalogue.version: catalogue}
        self.signer = signer
        self.outbox = Outbox(FeesOutbox)  # its relay: services/fees/__main__.py
        dialect = sessions.kw["bind"].dialect.name
        self._next_number = _NEXT_NUMBER[dialect]
        self._insert_bills = _INSERT_BILLS[dialect]

    # ---- from the broker ---------------------------------------------------------------------
    def bill(self, submitted: Sequence[approval_pb2.CaseSubmitted]) -> int:
        """Price and store the bills of accepted applications (a redelivery changes nothing)."""
        rows = []
        for s in submitted:
            catalogue = self._versions.get(s.catalogue_version, self._catalogue)
            priced = quote(catalogue, matter_code=s.matter_code, bundle_code=s.bundle_code, fields=dict(s.fields))
            stage = payment_stage(catalogue, matter_code=s.matter_code, bundle_code=s.bundle_code)
            rows.append(dict(application_id=s.application_id, case_id=s.case_id, catalogue_version=catalogue.version,
                             payer_name=s.applicant.name, quote=priced.SerializeToString(), total_fen=priced.total.fen,
                             payment_stage=stage, ended="",
                             accepted_at=clock.from_timestamp(s.accepted_at) if s.HasField("accepted_at") else clock.now()))
        if not rows:
            return 0
        with self._sessions() as session, session.begin():
            session.execute(self._insert_bills, rows)
        return len(rows)

    def ended(self, events: Sequence[approval_pb2.CaseStatusChanged]) -> None:
        """A withdrawn or refused case takes no payment from now on."""
        words = {approval_pb2.CASE_STATUS_WITHDRAWN: "withdrawn", approval_pb2.CASE_STATUS_REFUSED: "refused"}
        with self._sessions() as session, session.begin():
            for e in events:
                if e.status in words:
                    bill = session.get(BillRow, e.application_id, with_for_update=True)
                    if bill is not None and not bill.ended:
                        bill.ended = words[e.status]

    # ---- quote -------------------------------------------------------------------------------
    def quote(self, req: fees_pb2.QuoteRequest) -> fees_pb2.QuoteResponse:
        if not req.application_id:
            return quote(self._catalogue, matter_code=req.matter_code, bundle_code=req.bundle_code, fields=dict(req.fields))
        with self._sessions() as session:
            bill = self._bill(session, req.application_id)
            paid = session.scalar(select(PaymentRow.receipt_number).where(PaymentRow.application_id == req.application_id))
        got = fees_pb2.QuoteResponse.FromString(bill.quote)
        got.payment_stage, got.paid_receipt_number = bill.payment_stage, paid or ""  # type: ignore[assignment]
        got.state = (fees_pb2.BILL_STATE_PAID if paid else fees_pb2.BILL_STATE_WITHDRAWN if bill.ended == "withdrawn"
                     else fees_pb2.BILL_STATE_REFUSED if bill.ended == "refused" else fees_pb2.BILL_STATE_DUE)
        return got

    # ---- pay ---------------------------------------------------------------------------------
    def pay(self, req: fees_pb2.PayRequest) -> tuple[fees_pb2.Receipt, bool]:
        violations = []
        if not req.application_id:
            violations.append(("application_id", "必须提供申请编号"))
        if not req.client_key.strip() or len(req.client_key) > 128:
            violations.append(("client_key", "必须提供幂等键（不超过128个字符）"))
        if req.method not in _METHOD_WORDS:
            violations.append(("method", "缴费方式应为现金、银行卡、银行转账或非税缴款通知书"))
        if req.method == M.PAYMENT_METHOD_NON_TAX_NOTICE and not _NON_TAX_NOTICE.match(req.reference):
            violations.append(("reference", "非税缴款通知书编号应为20位数字"))
        elif req.method == M.PAYMENT_METHOD_BANK_TRANSFER and not _TRANSFER_REFERENCE.match(req.reference):
            violations.append(("reference", "银行转账须填交易流水号（6至40位字母数字）"))
        elif len(req.reference) > 40:
            violations.append(("reference", "凭证号不超过40个字符"))
        if not 0 < req.amount.fen < MAX_FEN:
            violations.append(("amount.fen", "缴费金额应大于零且不超过一万亿元（单位：分）"))
        if not req.clerk_id.strip():
            violations.append(("clerk_id", "必须提供收费人员编号"))
        if violations:
            raise InvalidArgument("缴费信息有误", violations=violations)
        fingerprint = _fingerprint(req, "client_key")
        try:
            return self._pay(req, fingerprint)
        except NotFound:
            # The bill follows intake's case.submitted through the broker, a moment after the
            # acceptance the window pays right after: wait for it here rather than answer
            # NOT_FOUND and have the counter call again.
            if not self._wait_for_bill(req.application_id):
                raise
            return self._pay(req, fingerprint)

    def _pay(self, req: fees_pb2.PayRequest, fingerprint: str) -> tuple[fees_pb2.Receipt, bool]:
        """Three round trips on PostgreSQL: BEGIN with the bill locked and both earlier payments
        looked up in one read, the year's number, then the receipt, the payment, the outbox row
        and COMMIT in one pipeline (Core statements: the window waits for this)."""
        now = clock.now()
        try:
            with db.pinned_session(self._sessions) as session:
                conn = session.connection()
                row = conn.execute(_LOCK_BILL, {"application_id": req.application_id, "client_key": req.client_key}).first()
                if row is None:
                    raise NotFound(f"申请 {req.application_id[:40]} 不在收费记录中（刚受理的申请请稍候片刻）",
                                   resource_type="hall.v1.Application", resource_name=req.application_id[:40])
                context.bind(case_id=row.case_id)
                if row.key_receipt is not None:  # a retried call: its receipt again
                    if row.key_fingerprint != fingerprint:
                        raise KeyReused(req.client_key)
                    return self._by_number(session, row.key_receipt), True
                if row.ended:
                    kind = "CASE_WITHDRAWN" if row.ended == "withdrawn" else "CASE_REFUSED"
                    raise FailedPrecondition("案件已撤回或不予许可，不能缴费", violations=[(kind, req.application_id, row.ended)])
                if row.total_fen == 0:
                    raise FailedPrecondition("本申请不收费", violations=[("NOTHING_DUE", req.application_id, "不收费")])
                if row.paid_receipt is not None:
                    raise FailedPrecondition(f"本申请已缴费（票据 {row.paid_receipt}）",
                                             violations=[("ALREADY_PAID", req.application_id, row.paid_receipt)])
                if req.amount.fen != row.total_fen:
                    raise InvalidArgument("缴费金额与应缴金额不符", violations=[
                        ("amount.fen", f"应缴 {money.format_yuan(row.total_fen)}（{row.total_fen} 分）")])
                bill = BillRow(application_id=req.application_id, case_id=row.case_id, payer_name=row.payer_name,
                               catalogue_version=row.catalogue_version)
                priced = fees_pb2.QuoteResponse.FromString(row.quote)
                receipt = self._receipt(session, now, K.RECEIPT_KIND_PAYMENT, bill, list(priced.lines),
                                        method=req.method, reference=req.reference, clerk_id=req.clerk_id)
                # The router releases a case held for its payment: sent with this transaction.
                self.outbox.add(session, topology.RK_PAYMENT_RECEIVED, approval_pb2.PaymentReceived(
                    case_id=row.case_id, application_id=req.application_id, receipt_number=receipt.receipt_number,
                    amount=receipt.total, paid_at=receipt.issued_at), message_id=f"paid-{req.application_id}",
                    headers={context.CASE_HEADER: row.case_id})
                with db.pipelined(session):
                    conn.execute(_INSERT_RECEIPT, self._receipt_values(receipt, client_key=None, fingerprint=fingerprint))
                    conn.execute(_INSERT_PAYMENT, {"client_key": req.client_key, "application_id": req.application_id,
                                                   "fingerprint": fingerprint, "receipt_number": receipt.receipt_number,
                                                   "paid_at": now})
                    session.commit()
        except IntegrityError:
            # Another call paid first: the same key answers its receipt; another key is refused.
            again = self._payment(req.client_key, fingerprint)
            if again is not None:
                return again, True
            raise FailedPrecondition("本申请已缴费", violations=[("ALREADY_PAID", req.application_id, "")]) from None
        log.info("payment received", receipt_number=receipt.receipt_number, total_fen=receipt.total.fen,
                 method=fees_pb2.PaymentMethod.Name(req.method))
        return receipt, False

    def _wait_for_bill(self, application_id: str) -> bool:
        """Whether the bill of `application_id` turns up within BILL_WAIT_S (a cheap read, less
        and less often)."""
        deadline, pause = time.monotonic() + BILL_WAIT_S, 0.005
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
            with self._sessions() as session:
                if session.scalar(select(BillRow.application_id).where(BillRow.application_id == application_id)):
                    return True
        return False

    def _payment(self, client_key: str, fingerprint: str) -> fees_pb2.Receipt | None:
        with self._sessions() as session:
            done = session.get(PaymentRow, client_key)
            if done is None:
                return None
            if done.fingerprint != fingerprint:
                raise KeyReused(client_key)
            return self._by_number(session, done.receipt_number)

    # ---- refund and void ---------------------------------------------------------------------
    def refund(self, req: fees_pb2.RefundRequest) -> tuple[fees_pb2.Receipt, bool]:
        violations = []
        if not req.receipt_number:
            violations.append(("receipt_number", "必须提供原票据号"))
        if not req.client_key.strip() or len(req.client_key) > 128:
            violations.append(("client_key", "必须提供幂等键（不超过128个字符）"))
        if not req.reason.strip():
            violations.append(("reason", "必须说明退费或作废的原因"))
        if not req.clerk_id.strip():
            violations.append(("clerk_id", "必须提供经办人员编号"))
        for i, line in enumerate(req.lines):
            if not 0 < line.amount.fen < MAX_FEN:
                violations.append((f"lines[{i}].amount.fen", "退费金额应大于零（单位：分）"))
        if violations:
            raise InvalidArgument("退费信息有误", violations=violations)
        fingerprint = _fingerprint(req, "client_key")
        with self._sessions() as session:
            again = session.scalar(select(IssuedReceiptRow).where(IssuedReceiptRow.client_key == req.client_key))
            if again is not None:
                if again.fingerprint != fingerprint:
                    raise KeyReused(req.client_key)
                return fees_pb2.Receipt.FromString(again.body), True
        now = clock.now()
        try:
            with self._sessions() as session, session.begin():
                original = self._by_number(session, req.receipt_number)
                if original.kind != K.RECEIPT_KIND_PAYMENT:
                    raise FailedPrecondition("只能对缴费票据退费", violations=[("NOT_A_PAYMENT", req.receipt_number, "")])
                bill = self._bill(session, original.application_id, lock=True)  # one refund of it at a time
                remaining = self._remaining(session, original)
                if req.lines:
                    lines = []
                    for i, asked in enumerate(req.lines):
                        key = (asked.matter_code, asked.item_code)
                        if key not in remaining:
                            raise InvalidArgument("原票据没有这一项", violations=[(f"lines[{i}]", "请核对事项与收费项目编码")])
                        if asked.amount.fen > remaining[key][1]:
                            raise FailedPrecondition("退费金额超过已缴未退金额", violations=[(
                                "REFUND_EXCEEDS_PAID", f"{asked.matter_code}/{asked.item_code}",
                                f"可退 {money.format_yuan(remaining[key][1])}")])
                        lines.append(_reversed(remaining[key][0], asked.amount.fen))
                else:
                    lines = [_reversed(line, left) for line, left in remaining.values() if left > 0]
                    if not lines:
                        raise FailedPrecondition("原票据已全额冲销", violations=[("ALREADY_REVERSED", req.receipt_number, "")])
                receipt = self._receipt(session, now, K.RECEIPT_KIND_REVERSAL, bill, lines, method=original.method,
                                        reference=original.reference, clerk_id=req.clerk_id,
                                        reverses=original.receipt_number, reason=req.reason.strip())
                self._store(session, receipt, client_key=req.client_key, fingerprint=fingerprint)
        except IntegrityError:
            with self._sessions() as session:
                again = session.scalar(select(IssuedReceiptRow).where(IssuedReceiptRow.client_key == req.client_key))
            if again is None:
                raise
            return fees_pb2.Receipt.FromString(again.body), True
        log.info("reversal issued", receipt_number=receipt.receipt_number, reverses=req.receipt_number,
                 total_fen=receipt.total.fen)
        return receipt, False

    def _remaining(self, session: Session, original: fees_pb2.Receipt) -> dict[tuple[str, str], tuple[fees_pb2.FeeLine, int]]:
        """Each line of a payment receipt and what of it is not refunded yet."""
        lines = {(line.matter_code, line.item_code): line for line in original.lines}
        left = {key: line.amount.fen for key, line in lines.items()}
        for body in session.scalars(select(IssuedReceiptRow.body).where(IssuedReceiptRow.reverses == original.receipt_number)):
            for line in fees_pb2.Receipt.FromString(body).lines:
                left[(line.matter_code, line.item_code)] += line.amount.fen  # reversal amounts are negative
        return {key: (lines[key], left[key]) for key in lines}

    # ---- receipts ----------------------------------------------------------------------------
    def _receipt(self, session: Session, now: datetime, kind: int, bill: BillRow, lines: list[fees_pb2.FeeLine], *,
                 method: int, reference: str, clerk_id: str, reverses: str = "", reason: str = "") -> fees_pb2.Receipt:
        conn = session.connection()
        year = clock.local(now).year
        # Numbered last in the transaction: the counter's row stays locked until commit.
        number = conn.execute(self._next_number, {"key": year}).scalar_one()
        total = money.total(line.amount.fen for line in lines)
        receipt = fees_pb2.Receipt(
            receipt_number=f"{self._catalogue.proto.division_code}-{year}-{number:08d}", application_id=bill.application_id,
            case_id=bill.case_id, lines=lines, total=common_pb2.Money(fen=total), issued_at=clock.to_timestamp(now),
            payer_name=bill.payer_name, kind=kind, subtotals=subtotals(lines), reverses=reverses,  # type: ignore[arg-type]
            method=method, reference=reference, clerk_id=clerk_id, catalogue_version=bill.catalogue_version,  # type: ignore[arg-type]
            total_in_capitals=money.capitals(total), reason=reason)
        self.signer.sign(receipt, signed_content(receipt))
        return receipt

    def _store(self, session: Session, receipt: fees_pb2.Receipt, *, client_key: str | None, fingerprint: str) -> None:
        session.connection().execute(_INSERT_RECEIPT, self._receipt_values(receipt, client_key=client_key,
                                                                           fingerprint=fingerprint))

    @staticmethod
    def _receipt_values(receipt: fees_pb2.Receipt, *, client_key: str | None, fingerprint: str) -> dict[str, Any]:
        issued = clock.from_timestamp(receipt.issued_at)
        return dict(receipt_number=receipt.receipt_number, kind=receipt.kind, application_id=receipt.application_id,
                    reverses=receipt.reverses, client_key=client_key, fingerprint=fingerprint,
                    day=clock.local(issued).date().isoformat(), total_fen=receipt.total.fen, issued_at=issued,
                    body=receipt.SerializeToString())

    def get(self, req: fees_pb2.GetReceiptRequest) -> fees_pb2.Receipt:
        if bool(req.application_id) == bool(req.receipt_number):
            raise InvalidArgument("必须且只能提供申请编号或票据号之一", violations=[("receipt_number", "二选一")])
        with self._sessions() as session:
            if req.receipt_number:
                return self._by_number(session, req.receipt_number)
            number = session.scalar(select(PaymentRow.receipt_number).where(PaymentRow.application_id == req.application_id))
            if number is not None:
                return self._by_number(session, number)
            legacy = session.get(LegacyReceiptRow, req.application_id)
            if legacy is not None:  # a case receipted on completion, before payments
                return legacy_view(legacy)
        raise NotFound(f"申请 {req.application_id} 尚未缴费", resource_type="hall.v1.Receipt", resource_name=req.application_id)

    def _by_number(self, session: Session, number: str) -> fees_pb2.Receipt:
        body = session.scalar(select(IssuedReceiptRow.body).where(IssuedReceiptRow.receipt_number == number))
        if body is None:
            raise NotFound(f"票据 {number[:40]} 不存在", resource_type="hall.v1.Receipt", resource_name=number[:40])
        receipt = fees_pb2.Receipt.FromString(body)
        context.bind(case_id=receipt.case_id)
        return receipt

    def verify(self, req: fees_pb2.VerifyReceiptRequest) -> fees_pb2.VerifyReceiptResponse:
        if not req.receipt_number or not req.check_code:
            raise InvalidArgument("必须提供票据号和校验码", violations=[
                (f, "必填") for f in ("receipt_number", "check_code") if not getattr(req, f)])
        try:
            with self._sessions() as session:
                receipt = self._by_number(session, req.receipt_number)
        except NotFound:
            return fees_pb2.VerifyReceiptResponse(valid=False, problem="本中心没有开具这一号码的票据")
        if receipt.check_code != req.check_code.strip().upper():
            return fees_pb2.VerifyReceiptResponse(valid=False, problem="校验码不符：票据可能被伪造或改动", receipt=receipt)
        problem = verify(receipt, self.signer.public_pem)
        return fees_pb2.VerifyReceiptResponse(valid=not problem, problem=problem, receipt=receipt)

    def pdf(self, receipt_number: str) -> bytes:
        from services.fees import printing  # reportlab loads once, at the first print

        if not receipt_number:
            raise InvalidArgument("必须提供票据号", violations=[("receipt_number", "必填")])
        with self._sessions() as session:
            receipt = self._by_number(session, receipt_number)
        hall = f"{self._catalogue.proto.division_name.removeprefix('内蒙古自治区')}政务服务中心"
        return printing.render(receipt, hall_name=hall,
                               departments={code: d.name for code, d in self._catalogue.departments.items()})

    # ---- reconciliation ----------------------------------------------------------------------
    def reconcile(self, day: str) -> fees_pb2.ExportReconciliationResponse:
        try:
            parsed = datetime.fromisoformat(day).date()
        except ValueError:
            raise InvalidArgument("日期格式应为 YYYY-MM-DD", violations=[("day", "日期格式应为 YYYY-MM-DD")]) from None
        with self._sessions() as session:
            bodies = list(session.scalars(select(IssuedReceiptRow.body).where(IssuedReceiptRow.day == parsed.isoformat())
                                          .order_by(IssuedReceiptRow.receipt_number)))
        receipts = [fees_pb2.Receipt.FromString(b) for b in bodies]
        per: dict[str, dict[str, Any]] = {}
        for r in receipts:
            for line in r.lines:
                d = per.setdefault(line.department, {"payments": set(), "reversals": set(), "paid": 0, "reversed": 0,
                                                     "rows": []})
                if r.kind == K.RECEIPT_KIND_PAYMENT:
                    d["payments"].add(r.receipt_number)
                    d["paid"] += line.amount.fen
                else:
                    d["reversals"].add(r.receipt_number)
                    d["reversed"] += line.amount.fen
                d["rows"].append([r.receipt_number, fees_pb2.ReceiptKind.Name(r.kind).removeprefix("RECEIPT_KIND_").lower(),
                                  r.reverses, r.application_id, line.matter_code, line.item_code, line.item_name,
                                  line.amount.fen, clock.local(clock.from_timestamp(r.issued_at)).isoformat()])
        out = fees_pb2.ExportReconciliationResponse(day=parsed.isoformat(), receipts=len(receipts))
        for department, d in sorted(per.items()):
            text = io.StringIO()
            w = csv.writer(text)
            w.writerow(["receipt_number", "kind", "reverses", "application_id", "matter_code", "item_code", "item_name",
                        "amount_fen", "issued_at"])
            w.writerows(d["rows"])
            out.departments.add(department=department, payments=len(d["payments"]), reversals=len(d["reversals"]),
                                paid=common_pb2.Money(fen=d["paid"]), reversed=common_pb2.Money(fen=d["reversed"]),
                                net=common_pb2.Money(fen=d["paid"] + d["reversed"]), csv=text.getvalue())
        out.paid.fen = sum(d.paid.fen for d in out.departments)
        out.reversed.fen = sum(d.reversed.fen for d in out.departments)
        out.net.fen = out.paid.fen + out.reversed.fen
        return out

    def _bill(self, session: Session, application_id: str, *, lock: bool = False) -> BillRow:
        bill = session.get(BillRow, application_id, with_for_update=lock)
        if bill is None:
            raise NotFound(f"申请 {application_id[:40]} 不在收费记录中（刚受理的申请请稍候片刻）",
                           resource_type="hall.v1.Application", resource_name=application_id[:40])
        return bill


def _reversed(line: fees_pb2.FeeLine, amount: int) -> fees_pb2.FeeLine:
    out = fees_pb2.FeeLine()
    out.CopyFrom(line)
    out.amount.fen = -amount
    out.gross.fen, out.reduction.fen = -amount, 0
    return out


def signed_content(r: fees_pb2.Receipt) -> dict[str, Any]:
    """The receipt's content as signed (signing.canonical makes it the exact text)."""
    return {
        "receipt_number": r.receipt_number, "kind": fees_pb2.ReceiptKind.Name(r.kind),
        "application_id": r.application_id, "case_id": r.case_id, "payer_name": r.payer_name,
        "lines": [{"department": x.department, "matter_code": x.matter_code, "item_code": x.item_code,
                   "item_name": x.item_name, "quantity": x.quantity, "amount_fen": x.amount.fen,
                   "reduction_fen": x.reduction.fen} for x in r.lines],
        "subtotals": [{"department": s.department, "amount_fen": s.amount.fen} for s in r.subtotals],
        "total_fen": r.total.fen, "method": fees_pb2.PaymentMethod.Name(r.method), "reference": r.reference,
        "clerk_id": r.clerk_id, "issued_at": clock.local(clock.from_timestamp(r.issued_at)).isoformat(),
        "reverses": r.reverses, "catalogue_version": r.catalogue_version,
    }


def legacy_view(row: LegacyReceiptRow) -> fees_pb2.Receipt:
    from google.protobuf import json_format

    return fees_pb2.Receipt(
        receipt_number=row.receipt_number, application_id=row.application_id, case_id=row.case_id,
        lines=[json_format.ParseDict(line, fees_pb2.FeeLine(), ignore_unknown_fields=True) for line in row.lines],
        total=common_pb2.Money(fen=row.total_fen), issued_at=clock.to_timestamp(row.issued_at),
        payer_name=row.payer_name, kind=K.RECEIPT_KIND_PAYMENT, total_in_capitals=money.capitals(row.total_fen))
