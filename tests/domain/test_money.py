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


def _read_capitals(text: str) -> int:
    """An independent reading of capitals back to fen (the inverse the receipt's reader applies)."""
    digits = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
    units = {"拾": 10, "佰": 100, "仟": 1000}
    yuan_text, _, small = text.partition("元")
    if not _:
        yuan_text, small = "", text

    def section(part: str) -> int:
        value = digit = 0
        for c in part:
            if c in digits:
                digit = digits[c]
            elif c in units:
                value, digit = value + digit * units[c], 0
        return value + digit

    yi, _, rest = yuan_text.rpartition("亿")
    wan, _, ones = rest.rpartition("万")
    fen = (section(yi) * 10**8 + section(wan) * 10**4 + section(ones)) * 100
    for i, c in enumerate(small):
        if c == "角":
            fen += digits[small[i - 1]] * 10
        elif c == "分":
            fen += digits[small[i - 1]]
    return fen


@pytest.mark.parametrize("fen, text", [
    (10000, "壹佰元整"), (100050, "壹仟元伍角整"), (100005, "壹仟元零伍分"), (5, "伍分"), (0, "零元整"), (3500, "叁拾伍元整"),
    (1000000005, "壹仟万元零伍分"), (100001000000, "壹拾亿零壹万元整"), (1010, "壹拾元壹角整"), (-200, "负贰元整"),
])
def test_capitals_as_receipts_print_them(fen, text):
    assert money.capitals(fen) == text


@given(st.integers(min_value=0, max_value=money.CAPITALS_LIMIT_FEN - 1))
def test_capitals_read_back_to_the_same_amount_and_follow_the_rules(fen):
    text = money.capitals(fen)
    assert _read_capitals(text) == fen
    assert "零零" not in text and not text.removesuffix("整").endswith("零")
    assert text.endswith("整") == (fen % 10 == 0)
