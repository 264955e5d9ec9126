"""Payments, receipts, reversals and the day's reconciliation against a real PostgreSQL: one
payment per application, gapless receipt numbers under separate processes, signatures anyone
verifies with the public key alone, refunds that never exceed what was paid."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest

from hall.v1 import approval_pb2, common_pb2, fees_pb2
from services.catalogue import load
from services.fees.payments import Fees, KeyReused
from services.fees.signing import Signer, verify
from services.runtime import clock
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.support.db import migrated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "fees" / "migrations"
BUNDLE = "150602-YJS-0001"
M = fees_pb2.PaymentMethod


@pytest.fixture
def fees(pg_url, pg_schema):
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_fees")
    yield Fees(sessions, load(), Signer(None))
    engine.dispose()


def accepted(fees, *, bundle=BUNDLE, matter="", fields=None) -> str:
    application_id = uuid.uuid4().hex
    fees.bill([approval_pb2.CaseSubmitted(
        case_id=f"C{application_id[:10]}", application_id=application_id, bundle_code="" if matter else bundle,
        matter_code=matter, catalogue_version=load().version, fields=fields or {},
        applicant=common_pb2.Applicant(name="王建军"), accepted_at=clock.to_timestamp(clock.now()))])
    return application_id


def pay(fees, application_id, *, fen=3500, key=None, method=M.PAYMENT_METHOD_CASH, reference=""):
    return fees.pay(fees_pb2.PayRequest(application_id=application_id, client_key=key or uuid.uuid4().hex,
                                        method=method, reference=reference, amount=common_pb2.Money(fen=fen),
                                        clerk_id="clerk-0101"))


def test_one_payment_one_receipt_with_each_departments_share(fees):
    app = accepted(fees)
    quoted = fees.quote(fees_pb2.QuoteRequest(application_id=app))
    assert quoted.total.fen == 3500 and not quoted.paid_receipt_number
    receipt, duplicate = pay(fees, app, key="k1")
    assert not duplicate and receipt.kind == fees_pb2.RECEIPT_KIND_PAYMENT and receipt.total.fen == 3500
    assert {s.department: s.amount.fen for s in receipt.subtotals} == {"quality": 1500, "national_tax": 1000,
                                                                       "local_tax": 1000}
    assert sum(s.amount.fen for s in receipt.subtotals) == receipt.total.fen and receipt.total_in_capitals == "叁拾伍元整"
    assert pay(fees, app, key="k1") == (receipt, True)  # a retried call: the same receipt
    with pytest.raises(FailedPrecondition) as twice:
        pay(fees, app, key="k2")
    assert twice.value.violations[0][0] == "ALREADY_PAID"
    assert fees.quote(fees_pb2.QuoteRequest(application_id=app)).paid_receipt_number == receipt.receipt_number
    assert fees.quote(fees_pb2.QuoteRequest(application_id=app)).state == fees_pb2.BILL_STATE_PAID
    assert fees.get(fees_pb2.GetReceiptRequest(application_id=app)) == receipt


def test_bills_are_priced_at_acceptance_with_the_exemption(fees):
    app = accepted(fees, fields={"small_micro_enterprise": "yes"})
    quoted = fees.quote(fees_pb2.QuoteRequest(application_id=app))
    assert quoted.total.fen == 2000 and any(line.reduction_basis for line in quoted.lines)
    assert pay(fees, app, fen=2000)[0].total.fen == 2000


@pytest.mark.parametrize("fen, field", [(0, "amount.fen"), (-100, "amount.fen"), (10**15, "amount.fen"),
                                        (3400, "amount.fen")])
def test_a_wrong_amount_is_refused_with_its_field_and_changes_nothing(fees, fen, field):
    app = accepted(fees)
    with pytest.raises(InvalidArgument) as err:
        pay(fees, app, fen=fen)
    assert err.value.violations[0][0] == field
    assert not fees.quote(fees_pb2.QuoteRequest(application_id=app)).paid_receipt_number


def test_references_unknown_withdrawn_and_free_applications_are_refused(fees):
    app = accepted(fees)
    with pytest.raises(InvalidArgument):
        pay(fees, app, method=M.PAYMENT_METHOD_NON_TAX_NOTICE, reference="123")
    assert pay(fees, app, method=M.PAYMENT_METHOD_NON_TAX_NOTICE, reference="1" * 20)[0].reference == "1" * 20
    with pytest.raises(NotFound):
        pay(fees, "nope")
    gone = accepted(fees)
    fees.ended([approval_pb2.CaseStatusChanged(application_id=gone, status=approval_pb2.CASE_STATUS_WITHDRAWN)])
    with pytest.raises(FailedPrecondition) as err:
        pay(fees, gone)
    assert err.value.violations[0][0] == "CASE_WITHDRAWN"
    free = accepted(fees, matter="150602-JS-0001")
    with pytest.raises(FailedPrecondition) as err:
        pay(fees, free, fen=1)
    assert err.value.violations[0][0] == "NOTHING_DUE"


def test_a_key_reused_for_another_payment_is_refused(fees):
    first, second = accepted(fees), accepted(fees)
    pay(fees, first, key="same")
    with pytest.raises(KeyReused):
        pay(fees, second, key="same")


def test_anyone_verifies_a_receipt_with_the_public_key_alone_and_a_changed_one_fails(fees):
    receipt, _ = pay(fees, accepted(fees))
    public = fees.signer.public_pem  # what GetVerificationKey publishes
    assert verify(receipt, public) == ""
    forged = fees_pb2.Receipt()
    forged.CopyFrom(receipt)
    forged.total.fen = 350
    assert "不符" in verify(forged, public)
    forged.CopyFrom(receipt)
    forged.signed_content = forged.signed_content.replace('"total_fen":3500', '"total_fen":350')
    assert "签名" in verify(forged, public)
    other = Signer(_other_key())
    assert "签名" in verify(receipt, other.public_pem)
    assert fees.verify(fees_pb2.VerifyReceiptRequest(receipt_number=receipt.receipt_number,
                                                     check_code=receipt.check_code.lower())).valid
    wrong = fees.verify(fees_pb2.VerifyReceiptRequest(receipt_number=receipt.receipt_number, check_code="AAAA"))
    assert not wrong.valid and "校验码" in wrong.problem
    assert not fees.verify(fees_pb2.VerifyReceiptRequest(receipt_number="150602-2026-99999999", check_code="X")).valid


def _other_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode()


def test_refunds_reverse_lines_never_beyond_what_was_paid_and_the_day_reconciles(fees):
    receipt, _ = pay(fees, accepted(fees))
    refund = fees_pb2.RefundRequest(receipt_number=receipt.receipt_number, client_key="r1", reason="多收副本费",
                                    clerk_id="clerk-0101", lines=[fees_pb2.RefundLine(
                                        matter_code="150602-ZJ-0001", item_code="F-ZJ-CERT",
                                        amount=common_pb2.Money(fen=500))])
    reversal, duplicate = fees.refund(refund)
    assert not duplicate and reversal.kind == fees_pb2.RECEIPT_KIND_REVERSAL and reversal.reverses == receipt.receipt_number
    assert reversal.total.fen == -500 and verify(reversal, fees.signer.public_pem) == ""
    assert fees.refund(refund) == (reversal, True)
    too_much = fees_pb2.RefundRequest()
    too_much.CopyFrom(refund)
    too_much.client_key, too_much.lines[0].amount.fen = "r2", 1001
    with pytest.raises(FailedPrecondition) as err:
        fees.refund(too_much)
    assert err.value.violations[0][0] == "REFUND_EXCEEDS_PAID"
    void, _ = fees.refund(fees_pb2.RefundRequest(receipt_number=receipt.receipt_number, client_key="v1",
                                                 reason="申请人撤回", clerk_id="clerk-0101"))
    assert void.total.fen == -3000  # everything still unrefunded
    with pytest.raises(FailedPrecondition) as err:
        fees.refund(fees_pb2.RefundRequest(receipt_number=receipt.receipt_number, client_key="v2", reason="再次",
                                           clerk_id="clerk-0101"))
    assert err.value.violations[0][0] == "ALREADY_REVERSED"
    assert fees.get(fees_pb2.GetReceiptRequest(receipt_number=receipt.receipt_number)) == receipt  # unchanged
    day = fees.reconcile(clock.today().isoformat())
    assert (day.paid.fen, day.reversed.fen, day.net.fen, day.receipts) == (3500, -3500, 0, 3)
    quality = next(d for d in day.departments if d.department == "quality")
    assert (quality.paid.fen, quality.reversed.fen, quality.payments, quality.reversals) == (1500, -1500, 1, 2)
    rows = quality.csv.strip().splitlines()
    assert rows[0].startswith("receipt_number,kind") and len(rows) == 1 + 3
    assert sum(int(r.split(",")[7]) for r in rows[1:]) == quality.net.fen == 0


def _pay_in_a_process(pg_url: str, schema: str, applications: list[str], out: multiprocessing.Queue) -> None:
    from services.runtime import db

    engine = db.make_engine(pg_url, schema, pool_size=2)
    worker = Fees(db.session_factory(engine), load(), Signer(None))
    for application_id in applications:
        receipt, _ = pay(worker, application_id)
        out.put(receipt.receipt_number)
    engine.dispose()


def test_receipt_numbers_have_no_gaps_and_no_duplicates_under_several_processes(fees, pg_url, pg_schema):
    applications = [accepted(fees) for _ in range(24)]
    out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_pay_in_a_process, args=(pg_url, pg_schema, applications[i::4], out))
               for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    numbers = sorted(out.get(timeout=5) for _ in applications)
    serials = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert serials == list(range(serials[0], serials[0] + len(applications)))


def test_the_printed_receipt_reads_back_with_its_number_check_code_lines_and_capitals(fees, tmp_path):
    import shutil
    import subprocess

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.fail("pdftotext is not installed: `make test` installs it (apt-get install poppler-utils poppler-data)")
    receipt, _ = pay(fees, accepted(fees, fields={"org_code_copies": "2"}), fen=4500)
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(fees.pdf(receipt.receipt_number))
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("鄂尔多斯市东胜区政务服务中心 统一收费票据", receipt.receipt_number, receipt.check_code,
                     "组织机构代码证书副本工本费", "2份", "小计 质量技术监督局", "¥15.00", "肆拾伍元整", "¥45.00", "王建军"):
        assert expected in text, expected
    # The QR code holds the verification data, drawn as a field of squares on the (uncompressed) page.
    from services.fees.printing import verification_data

    assert receipt.check_code in verification_data(receipt)
    assert pdf.read_bytes().count(b" re") > 100
