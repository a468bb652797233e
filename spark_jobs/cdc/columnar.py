"""Parse one partition's slice of a poll column-wise with Arrow: the consumer's fast path.

``parse_change`` (per record, in Python) costs several times what polling the record does;
here a poll's envelopes are joined into JSON lines and read by Arrow's C++ JSON reader against
the contract's wire schema, then cast to the change-log types in whole columns. The result is
the same rows ``parse_change`` + ``bronze.change_rows_arrow`` make: the unit tests compare them.

Anything unusual returns ``None`` and the consumer takes the per-record path for that slice,
which knows how to dead-letter a poison message and keep an unknown column: a value that is
not JSON or has the wrong type, a missing key, an op without its image, a required column
missing, a column the contract does not know yet, a value that does not fit its type
(``schemas.values``: precision, range, length, NaN, invalid UTF-8).
"""

from __future__ import annotations

import io
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from schemas.contracts import Contract
from schemas.values import MAX_EPOCH_DAY, MAX_EPOCH_MICROS, MIN_EPOCH_DAY, MIN_EPOCH_MICROS, type_params

# Debezium's JSON encodings (JsonConverter, no schemas; decimal.handling.mode=string).
_WIRE = {
    "bigint": pa.int64(),
    "int": pa.int64(),
    "smallint": pa.int64(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
    "decimal": pa.string(),
    "date": pa.int32(),
    "timestamp": pa.int64(),
    "timestamptz": pa.string(),
    "text": pa.string(),
    "varchar": pa.string(),
}
_SOURCE = pa.struct(
    [
        ("ts_ms", pa.int64()),
        ("txId", pa.int64()),
        ("lsn", pa.int64()),
        ("sequence", pa.string()),
        ("snapshot", pa.string()),
        ("table", pa.string()),
    ]
)
# source.sequence is '["<commit LSN>","<LSN>"]', either may be null.
_SEQUENCE = r'^\[(?:"(?P<commit>\d+)"|null)?,(?:"(?P<lsn>\d+)"|null)?\]$'
_OPS = pa.array(["c", "u", "d", "r"])
_NOT_SNAPSHOT = pa.array(["false", "False"])
_FALLBACK = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError)
# Arrow's JSON reader recurses per nesting level: 20,000 levels overflowed its stack here (a
# segfault, the reader process gone). A value nests that deep only with as many brackets and
# twice as many bytes, so only long values are counted.
_MAX_DEPTH = 5_000


def _lsn(digits: pa.Array) -> pa.Array:
    """A sequence half as a number; an unmatched (null) half comes out of the regex as ''."""
    return pc.if_else(pc.equal(digits, ""), pa.scalar(None, pa.string()), digits).cast(pa.int64())


class _Unusual(Exception):
    """The slice needs the per-record path."""


@cache
def _wire_schema(contract: Contract) -> pa.Schema:
    image = pa.struct([(c.name, _WIRE[c.type.split("(")[0]]) for c in contract.columns])
    return pa.schema([("before", image), ("after", image), ("op", pa.string()), ("source", _SOURCE)])


@cache
def _required(contract: Contract) -> tuple[str, ...]:
    return tuple(c.name for c in contract.columns if not c.nullable)


def _image(wire: pa.StructArray, target: pa.StructType, required: tuple[str, ...]) -> pa.StructArray:
    if len(wire.type) != len(target):
        raise _Unusual("a column the contract does not know")  # unexpected fields are inferred and appended
    present = pc.is_valid(wire)
    for name in required:
        if pc.any(pc.and_(present, pc.is_null(wire.field(name)))).as_py():
            raise _Unusual(f"required column {name} missing")
    children = [wire.field(f.name).cast(f.type) for f in target]
    # Under a null image the children are null too; Spark's Arrow intake refuses nulls in a
    # non-nullable child even there, so fill them as Arrow's row-wise builder does.
    children = [c if f.nullable else pc.fill_null(c, _filler(f.type)) for f, c in zip(target, children)]
    return pa.StructArray.from_arrays(children, fields=list(target), mask=pc.invert(present))


@cache
def _fit_checks(contract: Contract) -> tuple[tuple[str, str, int, int], ...]:
    """(column, check, low, high) for the limits a cast does not enforce (Arrow's casts already
    refuse a decimal or an integer that does not fit): string length (high; 0: none) and UTF-8,
    finite doubles, years 1-9999 as epoch days or microseconds."""
    checks = []
    for c in contract.columns:
        if c.base_type == "varchar":
            checks.append((c.name, "string", 0, type_params(c.type)[0]))
        elif c.base_type == "text":
            checks.append((c.name, "string", 0, 0))
        elif c.base_type == "double":
            checks.append((c.name, "finite", 0, 0))
        elif c.base_type == "date":
            checks.append((c.name, "days", MIN_EPOCH_DAY, MAX_EPOCH_DAY))
        elif c.base_type in ("timestamp", "timestamptz"):
            checks.append((c.name, "micros", MIN_EPOCH_MICROS, MAX_EPOCH_MICROS))
    return tuple(checks)


def _check_fits(image: pa.StructArray, contract: Contract) -> None:
    """Raise ``_Unusual`` when a value does not fit its contract type: the per-record path then
    dead-letters exactly the records at fault, with the reason."""
    for name, check, low, high in _fit_checks(contract):
        column = image.field(name)
        if check == "string":
            column.validate(full=True)  # Arrow's JSON reader keeps invalid UTF-8 as it is
            longest = pc.max(pc.utf8_length(column)).as_py() if high else None
            if longest is not None and longest > high:
                raise _Unusual(f"{name}: a string longer than {high}")
        elif check == "finite":
            if pc.any(pc.invert(pc.is_finite(column))).as_py():
                raise _Unusual(f"{name}: NaN or infinity")
        else:
            bounds = pc.min_max(column.cast(pa.int32() if check == "days" else pa.int64()))
            if bounds["min"].is_valid and (bounds["min"].as_py() < low or bounds["max"].as_py() > high):
                raise _Unusual(f"{name}: outside years 1 to 9999")


def _filler(t: pa.DataType) -> pa.Scalar:
    if pa.types.is_string(t):
        return pa.scalar("", t)
    if pa.types.is_boolean(t):
        return pa.scalar(False)
    if pa.types.is_decimal(t):
        return pa.scalar(0, pa.decimal128(1, 0)).cast(t)
    return pa.scalar(0, pa.int32() if pa.types.is_date32(t) else pa.int64()).cast(t)


def parse_slice(
    contract: Contract,
    target: pa.Schema,
    keys: list[bytes | None],
    values: list[bytes],
    topic: str,
    partition: int,
    offsets: list[int],
) -> pa.Table | None:
    """Non-tombstone records of one partition to change-log rows in ``target`` (the change-log
    schema without ``ingested_at``), or ``None`` when the slice needs the per-record path."""
    if not values:
        return None
    data = b"\n".join(values)
    if data.count(b"\n") != len(values) - 1:
        return None  # a raw newline inside a value: not one line per record
    if not data.startswith(b"{") or data.count(b"\n{") != len(values) - 1:
        return None  # a line that is not an object: Arrow 26 crashes (segfault) on a JSON null
    if max(map(len, values)) > 2 * _MAX_DEPTH and any(
        len(v) > 2 * _MAX_DEPTH and v.count(b"[") + v.count(b"{") > _MAX_DEPTH for v in values
    ):
        return None  # json refuses it record by record (RecursionError)
    try:
        return _parse(contract, target, keys, data, len(values), topic, partition, offsets)
    except (_Unusual, *_FALLBACK):
        return None


def _parse(contract, target, keys, data, n, topic, partition, offsets) -> pa.Table:
    wire = pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(block_size=max(1 << 20, len(data) + 1)),
        parse_options=pj.ParseOptions(explicit_schema=_wire_schema(contract), unexpected_field_behavior="infer"),
    )
    if wire.num_rows != n:
        raise _Unusual("row count differs from the record count")
    wire = wire.combine_chunks()
    op = wire.column("op").chunk(0)
    source = wire.column("source").chunk(0)
    if not pc.all(pc.is_in(op, value_set=_OPS)).as_py() or source.null_count:
        raise _Unusual("not a change envelope")
    if pc.any(pc.not_equal(source.field("table"), contract.name)).as_py():
        raise _Unusual("another table's change")
    image_type = target.field("after").type
    required = _required(contract)
    before = _image(wire.column("before").chunk(0), image_type, required)
    after = _image(wire.column("after").chunk(0), image_type, required)
    _check_fits(before, contract)
    _check_fits(after, contract)
    is_delete = pc.equal(op, "d")
    if (
        pc.any(pc.and_(is_delete, pc.is_null(before))).as_py()
        or pc.any(pc.and_(pc.invert(is_delete), pc.is_null(after))).as_py()
    ):
        raise _Unusual("an op without its image")
    ts_ms = source.field("ts_ms")
    if ts_ms.null_count:
        raise _Unusual("source.ts_ms missing")
    source_us = pc.multiply_checked(ts_ms, 1000)  # unchecked, an overflow would wrap to a wrong time
    bounds = pc.min_max(source_us)
    if bounds["min"].as_py() < MIN_EPOCH_MICROS or bounds["max"].as_py() > MAX_EPOCH_MICROS:
        raise _Unusual("source.ts_ms outside years 1 to 9999")
    sequence = source.field("sequence")
    parts = pc.extract_regex(pc.fill_null(sequence, "[null,null]"), _SEQUENCE)
    if parts.null_count:
        raise _Unusual("source.sequence is not a pair")
    commit_lsn = _lsn(parts.field("commit"))
    lsn = pc.coalesce(source.field("lsn"), _lsn(parts.field("lsn")))
    snapshot = pc.or_(
        pc.equal(op, "r"), pc.invert(pc.is_in(pc.fill_null(source.field("snapshot"), "false"), value_set=_NOT_SNAPSHOT))
    )
    key = pa.array(keys, pa.binary())
    if key.null_count:
        raise _Unusual("a record without a key")
    columns = {
        "key": key.cast(pa.string()),  # validates UTF-8
        "op": op,
        "before": before,
        "after": after,
        "source_ts": source_us.cast(pa.timestamp("us", tz="UTC")),
        "tx_id": source.field("txId"),
        "lsn": lsn,
        "commit_lsn": commit_lsn,
        "is_snapshot": snapshot,
        "extra_columns": pa.nulls(n, target.field("extra_columns").type),
        "kafka_topic": pa.array([topic] * n, pa.string()),
        "kafka_partition": pa.array([partition] * n, pa.int32()),
        "kafka_offset": pa.array(offsets, pa.int64()),
    }
    # No cast where the type already matches: a null image's children are null, which a cast to
    # the contract's non-nullable fields would refuse.
    arrays = [a if a.type == f.type else a.cast(f.type) for f, a in ((f, columns[f.name]) for f in target)]
    return pa.Table.from_arrays(arrays, schema=target)
