"""Whether a typed value fits its contract type: the limits the bronze (Spark/Arrow) types put on
values that parse. A value that does not fit is refused with the reason, never truncated,
rounded or wrapped: the CDC consumer dead-letters its record (``spark_jobs/cdc/envelope.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

INT_BITS = {"smallint": 16, "int": 32, "bigint": 64}
# Spark's DATE and TIMESTAMP hold years 1 to 9999 (Python's date and datetime, too).
MIN_DATE, MAX_DATE = date(1, 1, 1), date(9999, 12, 31)
MIN_EPOCH_DAY, MAX_EPOCH_DAY = (MIN_DATE - date(1970, 1, 1)).days, (MAX_DATE - date(1970, 1, 1)).days
MIN_EPOCH_MICROS = MIN_EPOCH_DAY * 86_400_000_000
MAX_EPOCH_MICROS = (MAX_EPOCH_DAY + 1) * 86_400_000_000 - 1

Check = Callable[[Any], "str | None"]


def type_params(contract_type: str) -> tuple[int, ...]:
    """The numbers in a contract type: ``varchar(16)`` -> (16,), ``decimal(10,2)`` -> (10, 2)."""
    return tuple(int(n) for n in re.findall(r"\d+", contract_type))


def _int_check(bits: int, name: str) -> Check:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: int) -> str | None:
        return None if low <= value <= high else f"outside the {name} range [{low}, {high}]"

    return check


def _decimal_check(precision: int, scale: int) -> Check:
    limit = Decimal(10) ** (precision - scale)

    def check(value: Decimal) -> str | None:
        if not value.is_finite():
            return "not a finite number"
        # From the digits, not quantize() or abs(): those round to the context's 28 digits and
        # raise InvalidOperation on a value such as 1E+30. Trailing zeros beyond the scale are no loss.
        _, digits, exponent = value.as_tuple()
        beyond = -int(exponent) - scale
        if beyond > 0 and any(digits[-beyond:]):
            return f"more than {scale} decimal places"
        if value.copy_abs() >= limit:
            return f"more than {precision - scale} digits before the decimal point"
        return None

    return check


def _double_check(value: float) -> str | None:
    return None if math.isfinite(value) else "not a finite number"


def _string_check(limit: int | None) -> Check:
    def check(value: str) -> str | None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "not valid UTF-8 (an unpaired surrogate)"
        if limit is not None and len(value) > limit:
            return f"longer than {limit} characters ({len(value)})"
        return None

    return check


def _time_check(value: date | datetime) -> str | None:
    day = value.date() if isinstance(value, datetime) else value
    return None if MIN_DATE <= day <= MAX_DATE else "outside years 1 to 9999"


@cache
def checker(contract_type: str) -> Check:
    """The check of one contract type: a function of a typed value returning why it does not fit,
    or None when it fits. Worked out once per type."""
    base = contract_type.split("(")[0]
    if base in INT_BITS:
        return _int_check(INT_BITS[base], base)
    if base == "decimal":
        return _decimal_check(*type_params(contract_type))
    if base == "double":
        return _double_check
    if base == "varchar":
        return _string_check(type_params(contract_type)[0])
    if base == "text":
        return _string_check(None)
    if base in ("date", "timestamp", "timestamptz"):
        return _time_check
    return lambda value: None  # boolean: any parsed boolean fits


def misfit(value: Any, contract_type: str) -> str | None:
    """Why ``value`` (already of the type's Python kind) does not fit ``contract_type``, or None."""
    return None if value is None else checker(contract_type)(value)
