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
