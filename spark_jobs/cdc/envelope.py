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
# "t": a TRUNCATE of the whole table (``skipped.operations=none``), with neither image nor key.
OPS = {"c", "u", "d", "r", "t"}
TRUNCATE_KEY = ""  # the change log's key of a truncate event: it is about every key
INT64 = range(-(2**63), 2**63)  # tx id and LSNs are bigint columns of the change log


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
    return EPOCH_DATE + timedelta(days=_exact(int, "an integer")(value))  # not int(): "7425", 7425.5 or true


def _epoch_micros(value) -> datetime:  # io.debezium.time.MicroTimestamp: microseconds, UTC wall clock
    return EPOCH + timedelta(microseconds=_exact(int, "an integer")(value))


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
            if name in plan.required:  # an explicit null: the Arrow write of the whole batch would refuse it
                raise PoisonMessage(f"column {name!r}: null in a required column")
            image[name] = None
            continue
        try:
            image[name] = convert(value)
        except (TypeError, ValueError, InvalidOperation, OverflowError) as e:
            raise PoisonMessage(f"column {name!r}: cannot read {value!r:.100} as {contract_type}: {e}") from e
        # A value that parses but does not fit (an amount over decimal(10,2), an int out of range,
        # a string over its varchar, NaN) would fail the whole batch's Arrow write.
        reason = check(image[name])
        if reason:
            # The value's repr is cut short: the raw bytes beside the reason keep all of it.
            raise PoisonMessage(f"column {name!r}: value {value!r:.100} does not fit {contract_type}: {reason}")
    return image


def _lsn(value: Any) -> int | None:
    return None if value in (None, "", "null") else _int64(int(value), "LSN")


def _int64(value: Any, what: str) -> Any:
    if value is not None and (type(value) is not int or value not in INT64):
        raise ValueError(f"{what} {value!r} is not a 64-bit integer")
    return value


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
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        # ValueError: also an integer literal over Python's 4300 digits; RecursionError: nesting
        # deeper than the interpreter's stack (either would otherwise stop the reader).
        raise PoisonMessage(f"value is not JSON: {str(e)[:200]}") from e
    op = envelope.get("op") if isinstance(envelope, dict) else None
    if not isinstance(op, str) or op not in OPS:  # a list or object is not hashable
        raise PoisonMessage(f"not a Debezium change envelope (op={op!r:.40})")
    source = envelope.get("source") or {}
    if not isinstance(source, dict):
        raise PoisonMessage(f"source block is {type(source).__name__}, not an object")
    if source.get("table", contract.name) != contract.name:
        # Another table's change on this table's topic (a routing mistake): never land it here.
        raise PoisonMessage(f"source.table {source['table']!r:.80} is not this topic's table {contract.name!r}")
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
        source_ts = EPOCH + timedelta(milliseconds=int(source["ts_ms"]))
        tx_id = _int64(source.get("txId"), "txId")
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError) as e:
        raise PoisonMessage(f"source block unreadable: {str(e)[:200]}") from e
    raw_image = envelope.get("after") if op != "d" else envelope.get("before")
    extra = None
    if isinstance(raw_image, dict):
        unknown = raw_image.keys() - plan.known
        extra = {k: json.dumps(raw_image[k]) for k in unknown} if unknown else None
        if unknown and checker("text")("".join(unknown)):  # a map key Arrow cannot encode
            raise PoisonMessage(f"an unknown column's name is not valid UTF-8: {sorted(unknown)!r:.200}")
    return ChangeRow(
        key=TRUNCATE_KEY if op == "t" else _row_key(key, after or before, contract),
        op=op,
        before=before,
        after=after,
        source_ts=source_ts,
        tx_id=tx_id,
        lsn=lsn,
        commit_lsn=commit_lsn,
        snapshot=op == "r" or str(source.get("snapshot") or "false") not in ("false", "False"),
        extra_columns=extra or None,
    )
