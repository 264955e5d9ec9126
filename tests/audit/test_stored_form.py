"""The chain hashes each record as its row will give it back (`as_stored`): for any record, that
is exactly what `to_record` rebuilds from the stored row, so `verify_chain` recomputes the same
hash. (Property test: no database; the row is the values the store writes.)"""

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from hall.v1 import audit_pb2
from services.audit.store import as_stored, to_record
from services.runtime import clock

text = st.text(max_size=20)
records = st.builds(
    audit_pb2.CallRecord, record_id=text, service=text, kind=st.sampled_from(list(audit_pb2.CallRecord.Kind.values())),
    operation=text, case_id=text, actor_id=text, duration_us=st.integers(0, 2**62), outcome=text, detail=text,
    step_id=text, department=text)
# Some records come without a start time; the others anywhere from 1970 to 2100, to the nanosecond.
start_times = st.one_of(st.none(), st.tuples(st.integers(0, 4_102_444_800), st.integers(0, 999_999_999)))


@given(records, start_times)
def test_the_hashed_form_is_what_the_stored_row_gives_back(rec, start):
    if start is not None:
        rec.started_at.seconds, rec.started_at.nanos = start
    row = SimpleNamespace(
        record_id=rec.record_id, service=rec.service, kind=rec.kind, operation=rec.operation, case_id=rec.case_id,
        actor_id=rec.actor_id, started_at=clock.from_timestamp(rec.started_at), duration_us=rec.duration_us,
        outcome=rec.outcome, detail=rec.detail, step_id=rec.step_id, department=rec.department)
    assert as_stored(rec).SerializeToString(deterministic=True) == to_record(row).SerializeToString(deterministic=True)
