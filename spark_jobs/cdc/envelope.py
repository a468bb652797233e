"""Parse Debezium change-event envelopes (JSON converter, no embedded schema) into rows.

Pure Python, no Spark: the consumer turns Kafka records into ``ChangeRow`` tuples and the
bronze writer turns those into a DataFrame. Values are typed by the source contract, since the
JSON carries Debezium's wire encodings (epoch days for dates, epoch microseconds for
timestamps, strings for decimals).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.contracts import Contract
from schemas.values import Check, checker

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)
OPS = {"c", "u", "d", "r"}


class PoisonMessage(ValueError):
    """A record that is not a usable change event; it goes to the dead-letter table."""


@dataclass(frozen=True)
class ChangeRow:
    key: str
    op: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source_ts: datetime
    tx_id: int | None
    lsn: int | None
    commit_lsn: int | None
    snapshot: bool
    extra_columns: dict[str, str] | None = None  # source columns the contract does not know yet


def _exact(kind: type, expected: str):
    def convert(value):
        if type(value) is not kind:  # bool is not an int here, unlike isinstance
            raise TypeError(f"expected {expected}, got {type(value).__name__}")
        return value

    return convert


def _epoch_days(value) -> date:  # io.debezium.time.Date: days since the epoch
    return EPOCH_DATE + timedelta(days=int(value))


def _epoch_micros(value) -> datetime:  # io.debezium.time.MicroTimestamp: microseconds, UTC wall clock
    return EPOCH + timedelta(microseconds=int(value))


def _iso(value) -> datetime:  # io.debezium.time.ZonedTimestamp: ISO-8601 string
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _decimal(value) -> Decimal:
    return Decimal(value if type(value) is str else str(value))


_CONVERTERS = {
    "bigint": _exact(int, "an integer"),
    "int": _exact(int, "an integer"),
    "smallint": _exact(int, "an integer"),
    "varchar": _exact(str, "a string"),
    "text": _exact(str, "a string"),
    "boolean": _exact(bool, "a boolean"),
    "double": float,
    "decimal": _decimal,
    "date": _epoch_days,
    "timestamp": _epoch_micros,
    "timestamptz": _iso,
}


@dataclass(frozen=True)
class _Plan:
    """What parsing needs of a contract, worked out once: hashing a Contract per record is slow."""

    columns: tuple[tuple[str, str, Any, Check], ...]  # (name, contract type, converter, fit check)
    required: frozenset[str]
    known: frozenset[str]


_PLANS: dict[int, tuple[Contract, _Plan]] = {}


def _plan(contract: Contract) -> _Plan:
    hit = _PLANS.get(id(contract))
    if hit is not None and hit[0] is contract:
        return hit[1]
    columns = []
    for c in contract.columns:
        convert = _CONVERTERS.get(c.type.split("(")[0])
        if convert is None:
            raise PoisonMessage(f"column {c.name!r}: unsupported contract type {c.type}")
        columns.append((c.name, c.type, convert, checker(c.type)))
    plan = _Plan(
        tuple(columns), frozenset(c.name for c in contract.columns if not c.nullable), frozenset(contract.column_names)
    )
    _PLANS[id(contract)] = (contract, plan)
    return plan


def _image(raw: Any, plan: _Plan) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise PoisonMessage(f"row image is {type(raw).__name__}, not an object")
    missing = plan.required - raw.keys()
    if missing:
        raise PoisonMessage(f"row image lacks required columns {sorted(missing)}")
    image: dict[str, Any] = {}
    for name, contract_type, convert, check in plan.columns:
        value = raw.get(name)
        if value is None:
            image[name] = None
            continue
        try:
            image[name] = convert(value)
        except (TypeError, ValueError, InvalidOperation, OverflowError) as e:
            raise PoisonMessage(f"column {name!r}: cannot read {value!r} as {contract_type}: {e}") from e
        # A value that parses but does not fit (an amount over decimal(10,2), an int out of range,
        # a string over its varchar, NaN) would fail the whole batch's Arrow write.
        reason = check(image[name])
        if reason:
            raise PoisonMessage(f"column {name!r}: value {value!r} does not fit {contract_type}: {reason}")
    return image


def _lsn(value: Any) -> int | None:
    return None if value in (None, "", "null") else int(value)


def _sequence(text: str) -> list:
    """source.sequence, '["<commit LSN>","<LSN>"]': split, not json.loads, on the hot path."""
    parts = text.strip("[]").replace('"', "").split(",")
    if len(parts) != 2:
        raise ValueError(f"sequence {text!r} is not a pair")
    return parts


def _row_key(key: bytes | None, image: dict[str, Any] | None, contract: Contract) -> str:
    """The record's key as text; for a record without one, the primary key's values in ``image`` as JSON."""
    if key is not None:
        return key.decode("utf-8", "replace")
    if image is None:  # not reached: parse_event refuses an event without the image its op needs
        raise PoisonMessage("no row image to key the change by")
    return json.dumps({k: image[k] for k in contract.primary_key}, default=str, sort_keys=True)


def parse_change(key: bytes | None, value: bytes | None, contract: Contract) -> ChangeRow | None:
    """One Kafka record to a ChangeRow; ``None`` for a tombstone (the delete event precedes it)."""
    if value is None:
        return None
    return parse_event(key, value, contract)


def parse_event(key: bytes | None, value: bytes, contract: Contract) -> ChangeRow:
    """One Kafka record that is not a tombstone to a ChangeRow."""
    try:
        envelope = json.loads(value.decode("utf-8"))  # str: skips json's encoding sniffing
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PoisonMessage(f"value is not JSON: {e}") from e
    if not isinstance(envelope, dict) or envelope.get("op") not in OPS:
        raise PoisonMessage(
            f"not a Debezium change envelope (op={envelope.get('op') if isinstance(envelope, dict) else None!r})"
        )
    op = envelope["op"]
    source = envelope.get("source") or {}
    plan = _plan(contract)
    before = _image(envelope.get("before"), plan)
    after = _image(envelope.get("after"), plan)
    if op in ("c", "u", "r") and after is None:
        raise PoisonMessage(f"op {op!r} without an after image")
    if op == "d" and before is None:
        raise PoisonMessage("delete without a before image")
    try:
        seq = _sequence(source["sequence"]) if source.get("sequence") else [None, None]
        commit_lsn, lsn = _lsn(seq[0]), _lsn(source["lsn"] if source.get("lsn") is not None else seq[1])
        ts_ms = int(source["ts_ms"])
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise PoisonMessage(f"source block unreadable: {e}") from e
    raw_image = envelope.get("after") if op != "d" else envelope.get("before")
    extra = None
    if isinstance(raw_image, dict):
        unknown = raw_image.keys() - plan.known
        extra = {k: json.dumps(raw_image[k]) for k in unknown} if unknown else None
    return ChangeRow(
        key=_row_key(key, after or before, contract),
        op=op,
        before=before,
        after=after,
        source_ts=EPOCH + timedelta(milliseconds=ts_ms),
        tx_id=source.get("txId"),
        lsn=lsn,
        commit_lsn=commit_lsn,
        snapshot=op == "r" or str(source.get("snapshot") or "false") not in ("false", "False"),
        extra_columns=extra or None,
    )
