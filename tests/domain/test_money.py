import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain import money


@given(st.lists(st.integers(-10**12, 10**12)))
def test_total_is_exact_integer_sum(amounts):
    assert money.total(amounts) == sum(amounts)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        money.total([100, 0.5])  # type: ignore[list-item]


@given(st.integers(-10**12, 10**12))
def test_format_round_trips(fen):
    text = money.format_yuan(fen).replace("¥", "").replace(",", "")
    sign = -1 if text.startswith("-") else 1
    yuan, cents = text.lstrip("-").split(".")
    assert sign * (int(yuan) * 100 + int(cents)) == fen
