"""Money is integer fen (分). Never a float; yuan appear only when formatting for people."""

from __future__ import annotations

from collections.abc import Iterable


def total(amounts: Iterable[int]) -> int:
    result = 0
    for amount in amounts:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"money must be integer fen, got {amount!r}")
        result += amount
    return result


def format_yuan(fen: int) -> str:
    """12345 -> '¥123.45' (exact; no float anywhere)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


_MULTIPLIERS = {"万": 10_000, "亿": 100_000_000}


def parse_yuan(text: str | int | float) -> int:
    """An amount as people write it, in yuan, to integer fen, exactly: 1234.5, "1,234.50",
    "50万", "¥300元". More than two decimals, a sign, or anything else: ValueError (nothing is
    rounded: money the applicant did not write is never invented)."""
    import unicodedata
    from decimal import Decimal, InvalidOperation

    if isinstance(text, bool):
        raise ValueError("not an amount")
    raw = unicodedata.normalize("NFKC", str(text)).strip().replace(",", "").removeprefix("¥").removesuffix("元")
    scale = 1
    if raw[-1:] in _MULTIPLIERS:
        raw, scale = raw[:-1], _MULTIPLIERS[raw[-1]]
    if not raw.replace(".", "", 1).isdigit() or not raw.isascii():  # digits, one point: no sign, no exponent
        raise ValueError(f"not an amount: {text!r}")
    try:
        amount = Decimal(raw) * scale * 100
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if amount != amount.to_integral_value():
        raise ValueError(f"not an amount in yuan with at most two decimals: {text!r}")
    return int(amount)
