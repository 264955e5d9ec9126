"""The fee table's rules: fixed, per unit, percentages with floor and cap, reductions by rule;
integer fen, half up to the fen."""

from hypothesis import given
from hypothesis import strategies as st

from hall.v1 import catalogue_pb2, common_pb2
from services.catalogue import load
from services.catalogue.pricing import price_item, quote, share

K = catalogue_pb2.FeeItem
BUNDLE = "150602-YJS-0001"


def item(**kw):
    return catalogue_pb2.FeeItem(code="F", name="x", basis="b", **kw)


@given(st.integers(0, 10**15), st.integers(0, 10_000))
def test_a_share_is_half_up_to_the_fen_and_never_more_than_the_whole(amount, bp):
    got = share(amount, bp)
    assert abs(got * 10_000 - amount * bp) <= 5_000  # within half a fen of the exact share
    assert 0 <= got <= amount and share(amount, 10_000) == amount and share(amount, 0) == 0


@given(base=st.integers(0, 10**13), bp=st.integers(1, 10_000), floor=st.integers(0, 10**6),
       extra=st.integers(0, 10**8))
def test_a_percentage_stays_within_its_floor_and_cap_and_grows_with_its_base(base, bp, floor, extra):
    rule = item(kind=K.KIND_PERCENTAGE, rate_basis_points=bp, base_field="capital",
                floor=common_pb2.Money(fen=floor), cap=common_pb2.Money(fen=floor + extra))
    _, _, gross, _ = price_item(rule, {"capital": str(base)})
    assert floor <= gross <= floor + extra
    assert price_item(rule, {"capital": str(base + 100)})[2] >= gross


@given(units=st.integers(0, 1000), standard=st.integers(1, 10**6), off=st.integers(1, 10_000))
def test_per_unit_and_a_reduction_by_rule(units, standard, off):
    rule = item(kind=K.KIND_PER_UNIT, standard=common_pb2.Money(fen=standard), unit_field="copies",
                reductions=[catalogue_pb2.FeeReduction(code="R", name="减", when_field="small", when_value="yes",
                                                       off_basis_points=off, legal_basis="依据")])
    quantity, _, gross, reduction = price_item(rule, {"copies": str(units), "small": "yes"})
    assert (quantity, gross) == (units, units * standard)
    assert reduction == share(gross, off) and 0 <= gross - reduction <= gross
    assert price_item(rule, {"copies": str(units), "small": "no"})[3] == 0  # the rule does not apply


def test_the_company_bundle_quotes_each_department_and_the_exemption_with_its_basis():
    plain = quote(load(), matter_code="", bundle_code=BUNDLE)
    assert plain.total.fen == 3500 and [s.department for s in plain.subtotals] == ["quality", "national_tax", "local_tax"]
    small = quote(load(), matter_code="", bundle_code=BUNDLE,
                  fields={"small_micro_enterprise": "yes", "org_code_copies": "2"})
    cert = next(line for line in small.lines if line.item_code == "F-ZJ-CERT")
    assert (cert.gross.fen, cert.reduction.fen, cert.amount.fen) == (1500, 1500, 0)
    assert "财综〔2011〕104号" in cert.reduction_basis
    copies = next(line for line in small.lines if line.item_code == "F-ZJ-COPY")
    assert (copies.quantity, copies.amount.fen, copies.unit_name) == (2, 1000, "份")
    assert small.total.fen == 1000 + 1000 + 1000 == sum(s.amount.fen for s in small.subtotals)


def test_a_free_matter_says_so():
    free = quote(load(), matter_code="150602-JS-0001", bundle_code="")
    assert free.total.fen == 0 and not free.lines and free.free_note == "不收费"
