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


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SECTIONS = ("", "万", "亿")
CAPITALS_LIMIT_FEN = 10**14  # up to 9999亿9999万9999元9角9分


def _group(g: int) -> str:
    """A group of four digits (1-9999) in capitals, with one 零 for each run of inner zeros."""
    out, zero = "", False
    for pos, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        d = g // pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[d] + unit
    return out


def capitals(fen: int) -> str:
    """An amount in Chinese capitals as receipts print it (大写金额): 10000 -> 壹佰元整,
    100050 -> 壹仟元伍角整, 100005 -> 壹仟元零伍分, 5 -> 伍分, 0 -> 零元整. One 零 stands for any run of zeros between
    non-zero digits, 整 ends an amount without 分, and 拾 is always written with its digit (壹拾)."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"money must be integer fen, got {fen!r}")
    if fen < 0:
        return "负" + capitals(-fen)
    if fen >= CAPITALS_LIMIT_FEN:
        raise ValueError("amount too large for capitals")
    if fen == 0:
        return "零元整"
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    out = ""
    if yuan:
        groups = [yuan // 10**8, yuan // 10**4 % 10**4, yuan % 10**4]
        pending_zero = False
        for i, g in enumerate(groups):
            section = _SECTIONS[2 - i]
            if g == 0:
                pending_zero = bool(out)
                continue
            if out and (pending_zero or g < 1000):
                out += "零"
            out += _group(g) + section
            pending_zero = False
        out += "元"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif yuan and cents:
        out += "零"
    if cents:
        out += _DIGITS[cents] + "分"
    else:
        out += "整"
    return out
