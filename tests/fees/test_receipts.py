from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hall.v1 import fees_pb2
from services.catalogue import load
from services.fees.pricing import quote
from services.fees.receipts import Receipts, verification_code
from services.runtime import clock
from services.runtime.errors import InvalidArgument, NotFound
from tests.support.db import migrated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "fees" / "migrations"
BUNDLE = "150602-YJS-0001"
KEY = b"test-key"


@pytest.fixture
def receipts(pg_url, pg_schema):
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_fees")
    yield Receipts(sessions, load(), KEY)
    engine.dispose()


def test_quote_lists_each_department_item_and_the_exact_total():
    q = quote(load(), matter_code="", bundle_code=BUNDLE)
    assert [(line.department, line.amount.fen) for line in q.lines] == [
        ("quality", 1500), ("national_tax", 1000), ("local_tax", 1000)]
    assert q.total.fen == 3500


def test_free_matter_quotes_zero():
    assert quote(load(), matter_code="150602-JS-0001", bundle_code="").total.fen == 0


def test_one_receipt_per_application_even_under_concurrent_calls(receipts):
    req = fees_pb2.IssueReceiptRequest(application_id="A1", case_id="C1", bundle_code=BUNDLE, payer_name="王")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: receipts.issue(req), range(8)))
    numbers = {r.receipt_number for r, _ in results}
    assert len(numbers) == 1
    assert sum(1 for _, dup in results if not dup) == 1


def test_receipt_numbers_are_gapless(receipts):
    year = clock.today().year
    for i in range(1, 6):
        r, _ = receipts.issue(fees_pb2.IssueReceiptRequest(application_id=f"A{i}", case_id=f"C{i}", bundle_code=BUNDLE))
        assert r.receipt_number == f"150602-{year}-{i:08d}"
    receipts.issue(fees_pb2.IssueReceiptRequest(application_id="A3", case_id="C3", bundle_code=BUNDLE))  # duplicate
    r, _ = receipts.issue(fees_pb2.IssueReceiptRequest(application_id="A6", case_id="C6", bundle_code=BUNDLE))
    assert r.receipt_number.endswith("00000006")


def test_third_party_can_verify_and_detect_a_changed_total(receipts):
    r, _ = receipts.issue(fees_pb2.IssueReceiptRequest(application_id="A1", case_id="C1", bundle_code=BUNDLE))
    issued = clock.from_timestamp(r.issued_at)
    assert verification_code(KEY, receipt_number=r.receipt_number, application_id="A1", total_fen=r.total.fen,
                             issued_at=issued) == r.verification_code
    assert verification_code(KEY, receipt_number=r.receipt_number, application_id="A1", total_fen=r.total.fen + 1,
                             issued_at=issued) != r.verification_code


def test_bad_input_is_typed(receipts):
    with pytest.raises(InvalidArgument):
        receipts.issue(fees_pb2.IssueReceiptRequest())
    with pytest.raises(NotFound):
        receipts.get("nope")


def _req(i):
    return fees_pb2.IssueReceiptRequest(application_id=f"A{i}", case_id=f"C{i}", bundle_code=BUNDLE, payer_name="王")


def _numbers(receipts, *ids):
    return [int(receipts.get(f"A{i}").receipt_number.rsplit("-", 1)[1]) for i in ids]


def test_a_batch_numbers_in_order_from_one_block_and_skips_receipts_issued_before(receipts):
    receipts.issue(_req(1))
    assert receipts.issue_all([_req(2), _req(1), _req(3), _req(2)]) == 2  # A1 issued before, A2 twice
    assert _numbers(receipts, 1, 2, 3) == [1, 2, 3]
    receipts.issue(_req(4))
    assert _numbers(receipts, 4) == [4]
    assert receipts.issue_all([_req(1), _req(4)]) == 0
    assert receipts.issue_all([]) == 0


def test_a_batch_that_meets_a_receipt_issued_meanwhile_rolls_back_and_issues_one_by_one(receipts, monkeypatch):
    from services.fees import receipts as module

    receipts.issue(_req(2))
    # As if another replica had issued A2 after the batch looked: the batch's insert meets it.
    monkeypatch.setattr(module, "_ISSUED", module._ISSUED.where(module._RECEIPTS.c.application_id == "none"))
    assert receipts.issue_all([_req(1), _req(2), _req(3)]) == 2
    assert _numbers(receipts, 2, 1, 3) == [1, 2, 3]  # the rolled-back block left no gap


def test_a_batch_with_bad_input_issues_nothing(receipts):
    with pytest.raises(InvalidArgument):
        receipts.issue_all([_req(1), fees_pb2.IssueReceiptRequest(application_id="A2")])
    with pytest.raises(NotFound):
        receipts.get("A1")
