"""Parse Debezium change-event envelopes (JSON converter, no embedded schema) into rows.

Pure Python, no Spark: the consumer turns Kafka records into ``ChangeRow`` tuples and the
bronze writer turns those into a DataFrame. Values are typed by the source contract, since the
JSON carries Debezium's wire encodings (epoch days for dates, epoch microseconds for
timestamps, strings for decimals).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.contracts import Contract

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
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


def _typed(value: Any, contract_type: str, column: str) -> Any:
    if value is None:
        return None
    base = contract_type.split("(")[0]
    try:
        if base in ("bigint", "int", "smallint"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"expected an integer, got {type(value).__name__}")
            return value
        if base in ("varchar", "text"):
            if not isinstance(value, str):
                raise TypeError(f"expected a string, got {type(value).__name__}")
            return value
        if base == "boolean":
            if not isinstance(value, bool):
                raise TypeError(f"expected a boolean, got {type(value).__name__}")
            return value
        if base == "double":
            return float(value)
        if base == "decimal":
            return Decimal(str(value))
        if base == "date":  # io.debezium.time.Date: days since the epoch
            return date(1970, 1, 1) + timedelta(days=int(value))
        if base == "timestamp":  # io.debezium.time.MicroTimestamp: microseconds, UTC wall clock
            return EPOCH + timedelta(microseconds=int(value))
        if base == "timestamptz":  # io.debezium.time.ZonedTimestamp: ISO-8601 string
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError, InvalidOperation, OverflowError) as e:
        raise PoisonMessage(f"column {column!r}: cannot read {value!r} as {contract_type}: {e}") from e
    raise PoisonMessage(f"column {column!r}: unsupported contract type {contract_type}")


def _image(raw: Any, contract: Contract) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise PoisonMessage(f"row image is {type(raw).__name__}, not an object")
    missing = [c.name for c in contract.columns if c.name not in raw and not c.nullable]
    if missing:
        raise PoisonMessage(f"row image lacks required columns {missing}")
    return {c.name: _typed(raw.get(c.name), c.type, c.name) for c in contract.columns}


def _lsn(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def parse_change(key: bytes | None, value: bytes | None, contract: Contract) -> ChangeRow | None:
    """One Kafka record to a ChangeRow; ``None`` for a tombstone (the delete event precedes it)."""
    if value is None:
        return None
    try:
        envelope = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PoisonMessage(f"value is not JSON: {e}") from e
    if not isinstance(envelope, dict) or envelope.get("op") not in OPS:
        raise PoisonMessage(f"not a Debezium change envelope (op={envelope.get('op') if isinstance(envelope, dict) else None!r})")
    op = envelope["op"]
    source = envelope.get("source") or {}
    before = _image(envelope.get("before"), contract)
    after = _image(envelope.get("after"), contract)
    if op in ("c", "u", "r") and after is None:
        raise PoisonMessage(f"op {op!r} without an after image")
    if op == "d" and before is None:
        raise PoisonMessage("delete without a before image")
    try:
        seq = json.loads(source["sequence"]) if source.get("sequence") else [None, None]
        commit_lsn, lsn = _lsn(seq[0]), _lsn(source.get("lsn", seq[1]))
        ts_ms = int(source["ts_ms"])
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise PoisonMessage(f"source block unreadable: {e}") from e
    raw_image = envelope.get("after") if op != "d" else envelope.get("before")
    known = set(contract.column_names)
    extra = {k: json.dumps(v) for k, v in raw_image.items() if k not in known} if isinstance(raw_image, dict) else {}
    row_key = key.decode("utf-8", "replace") if key is not None else json.dumps(
        {k: (after or before)[k] for k in contract.primary_key}, default=str, sort_keys=True
    )
    return ChangeRow(
        key=row_key,
        op=op,
        before=before,
        after=after,
        source_ts=EPOCH + timedelta(milliseconds=ts_ms),
        tx_id=source.get("txId"),
        lsn=lsn,
        commit_lsn=commit_lsn,
        snapshot=op == "r" or str(source.get("snapshot", "false")) not in ("false", "False"),
        extra_columns=extra or None,
    )
