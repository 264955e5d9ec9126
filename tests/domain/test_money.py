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


@given(st.integers(min_value=0, max_value=10**15))
def test_yuan_written_as_formatted_parse_back_to_the_same_fen(fen):
    assert money.parse_yuan(money.format_yuan(fen)) == fen
    assert money.parse_yuan(f"{fen // 100}.{fen % 100:02d}") == fen


@pytest.mark.parametrize("written, fen", [("50万", 50_000_000), ("1,234.5", 123_450), ("３００元", 30_000),
                                          (12, 1200), ("0.01", 1)])
def test_yuan_as_clerks_write_them(written, fen):
    assert money.parse_yuan(written) == fen


@pytest.mark.parametrize("written", ["1.001", "-5", "abc", "", "1e400", "NaN", True])
def test_what_is_not_an_amount_in_yuan_is_refused(written):
    with pytest.raises(ValueError):
        money.parse_yuan(written)
