"""A landed file's lines to contract-typed Arrow rows, and the lines that break the contract
with their line number and reason. Pure Python and Arrow, no Spark.

Most lines are clean, so lines are read in bulk by Arrow's JSON or CSV reader against the
contract's types: a segment that Arrow refuses (bad JSON, a wrong type, a key the contract does
not know, a short CSV row) is halved until the refusing lines are found, and only those go
through the line-by-line reader here, which gives each its reason or keeps its unknown columns
as rescued data. Both readers agree on what a good line yields (unit tests compare them).

Reading rules (the same in both): a JSON value that is not a string is read as its JSON text
(so ``"bytes": "12"`` and ``"bytes": 12`` are both 12); an empty CSV field is null; numbers and
timestamps may be surrounded by spaces; a timestamp without an offset is UTC (the warehouse's
session time zone); a double must be finite (as the CDC consumer requires).

Files are UTF-8 (a leading byte order mark is dropped). A line that is not valid UTF-8, longer
than the configured maximum, or (CSV) with an odd number of quotes (a quoted field spanning
lines, or never closed: its pieces are not rows) is quarantined with that reason; so is a CSV
file's header line met again. A file whose header cannot describe its rows (a required column
missing, a column named twice), or that is UTF-16, fails whole.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pj

from schemas.contracts import Contract
from schemas.values import INT_BITS, misfit
from spark_jobs.landing.feeds import BUSINESS_TZ, Feed

LINE = "_line_number"
RESCUED = "_rescued_data"  # columns the contract does not know, as JSON, instead of dropping them
# A refused segment is halved down to this many lines, then read line by line.
LINE_BY_LINE_BELOW = 32
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# What of an over-long line the quarantine keeps.
LONG_LINE_KEPT = 1024

_INT_TEXT = re.compile(r"[+-]?\d+")
_FLOAT_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(NaN|Infinity|inf)", re.IGNORECASE)
_BOOL_TEXT = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}


def arrow_type(contract_type: str) -> pa.DataType:
    """The Arrow type a contract column is stored as in bronze (as Spark writes it)."""
    base = contract_type.split("(")[0]
    if base in INT_BITS:
        return {16: pa.int16(), 32: pa.int32(), 64: pa.int64()}[INT_BITS[base]]
    if base == "decimal":
        p, s = re.findall(r"\d+", contract_type)
        return pa.decimal128(int(p), int(s))
    return {
        "varchar": pa.string(),
        "text": pa.string(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }[base]


def _read_type(contract_type: str) -> pa.DataType:
    # Arrow wants an offset in a string read as an instant; a plain timestamp is read as wall
    # time and then taken as UTC.
    return pa.timestamp("us") if contract_type == "timestamp" else arrow_type(contract_type)


@cache
def max_length(contract_type: str) -> int | None:
    """A varchar's length limit (None: no limit)."""
    m = re.fullmatch(r"varchar\((\d+)\)", contract_type)
    return int(m.group(1)) if m else None


def contract_schema(contract: Contract) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.type), c.nullable) for c in contract.columns])


# ---------------------------------------------------------------------------------------------
# One value, one line: the line-by-line reader (and the source of every reason).


class Unreadable(ValueError):
    pass


def convert(text: str, contract_type: str):
    """A text as the contract type; raises ``Unreadable``."""
    base = contract_type.split("(")[0]
    if base in ("varchar", "text"):
        return text
    t = text.strip()
    try:
        if base in INT_BITS:
            if _INT_TEXT.fullmatch(t) and misfit(int(t), base) is None:
                return int(t)
        elif base == "double":
            if _FLOAT_TEXT.fullmatch(t) and math.isfinite(float(t)):
                return float(t)
        elif base == "decimal":
            p, s = (int(x) for x in re.findall(r"\d+", contract_type))
            d = Decimal(t).quantize(Decimal(1).scaleb(-s))
            if d.is_finite() and len(d.as_tuple().digits) <= p:
                return d
        elif base == "boolean":
            return _BOOL_TEXT[t.lower()]
        elif base == "date":
            return date.fromisoformat(t)
        elif base in ("timestamp", "timestamptz"):
            ts = datetime.fromisoformat(t)
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, KeyError, InvalidOperation, ArithmeticError):
        pass
    raise Unreadable(text)


def check(texts: dict[str, str | None], contract: Contract) -> tuple[str | None, dict]:
    """The first rule a row's texts break (in column order), or None, and the typed values."""
    typed: dict[str, object] = {}
    for c in contract.columns:
        text = texts.get(c.name)
        if text is None:
            if not c.nullable:
                return f"column {c.name!r}: required but missing", {}
            typed[c.name] = None
            continue
        try:
            typed[c.name] = convert(text, c.type)
        except Unreadable:
            return f"column {c.name!r}: cannot read '{text}' as {c.type}", {}
        limit = max_length(c.type)
        if limit is not None and len(text) > limit:
            return f"column {c.name!r}: longer than {limit} characters", {}
    return None, typed


def _json_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _rescue(extras: dict[str, str | None]) -> str | None:
    return json.dumps(extras, separators=(",", ":"), ensure_ascii=False) if extras else None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _KeyTwice(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    obj: dict[str, object] = {}
    for k, v in pairs:
        if k in obj:
            raise _KeyTwice(repr(k))
        obj[k] = v
    return obj


def line_texts(line: str, contract: Contract, names: list[str] | None) -> tuple[str | None, dict, dict]:
    """(reason, contract texts, unknown columns' texts) of one JSON line, or of one CSV line
    under its file's header ``names``."""
    if line == "":
        return "blank line", {}, {}
    if names is None:
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys)
        except _KeyTwice as e:  # which value is meant is anyone's guess
            return f"key {e} given twice in one object", {}, {}
        except ValueError:
            return "not a JSON object", {}, {}
        if not isinstance(obj, dict):
            return "not a JSON object", {}, {}
        values = {k: _json_text(v) for k, v in obj.items()}
        if not all(_encodes(t) for kv in values.items() for t in kv if t is not None):
            return "not valid UTF-8 (an unpaired surrogate escape)", {}, {}
    else:
        if line.count('"') % 2:
            return "unbalanced quotes: a quoted field spans lines or is never closed", {}, {}
        fields = next(csv.reader([line]))
        if fields == names:
            return "the header line again, in the middle of the file", {}, {}
        if len(fields) != len(names):
            return "not as many fields as the file's header", {}, {}
        values = {n: (v if v != "" else None) for n, v in zip(names, fields)}
    known = set(contract.column_names)
    return None, {k: v for k, v in values.items() if k in known}, {k: v for k, v in values.items() if k not in known}


# ---------------------------------------------------------------------------------------------
# A whole file.


@dataclass
class Parsed:
    rows: pa.Table  # contract columns (bronze types), _rescued_data, _line_number
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, raw line, reason)
    read: int = 0


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow in place (no decoded copy)."""
    offsets = pa.py_buffer(np.array([0, len(data)], np.int64).tobytes())
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def split_lines(text: bytes) -> list[bytes]:
    """A file's lines (``\\n`` or ``\\r\\n``); a final newline does not start an empty line."""
    lines = text.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if text.find(b"\r") >= 0:
        lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
    return lines


class _Reader:
    """Arrow's bulk read of a segment of lines, per format."""

    def __init__(self, contract: Contract, names: list[str] | None):
        self.contract, self.names = contract, names
        types = {c.name: _read_type(c.type) for c in contract.columns}
        if names is None:
            self.options = pj.ParseOptions(
                explicit_schema=pa.schema(list(types.items())),
                unexpected_field_behavior="error",
                newlines_in_values=False,
            )
            self.unknown = []
        else:
            self.unknown = [n for n in names if n not in types]
            self.options = (
                pacsv.ReadOptions(column_names=names),
                pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
                pacsv.ConvertOptions(
                    column_types={n: types.get(n, pa.string()) for n in names},
                    null_values=[""],
                    strings_can_be_null=True,
                    include_columns=names,
                ),
            )

    def read(self, lines: list[bytes]) -> pa.Table:
        body = io.BytesIO(b"\n".join(lines) + b"\n")
        if self.names is None:
            table = pj.read_json(body, parse_options=self.options)
        else:
            table = pacsv.read_csv(body, *self.options)
        if table.num_rows != len(lines):
            raise pa.ArrowInvalid(f"{table.num_rows} rows from {len(lines)} lines")
        return table

    def typed(self, table: pa.Table) -> tuple[pa.Table, pa.Array]:
        """Bronze-typed contract columns plus rescued data, and a mask of rows breaking a rule
        Arrow's reader does not check (required, length)."""
        columns, broken = {}, pa.repeat(pa.scalar(False), table.num_rows)
        for c in self.contract.columns:
            col = table.column(c.name) if c.name in table.column_names else pa.nulls(table.num_rows, _read_type(c.type))
            if c.type == "timestamp":
                col = col.cast(pa.timestamp("us", tz="UTC"))  # wall time read as UTC
            if not c.nullable:
                broken = pc.or_(broken, pc.is_null(col))
            if c.type == "double":  # NaN and infinities parse, but are no measurement
                broken = pc.or_(broken, pc.invert(pc.fill_null(pc.is_finite(col), True)))
            limit = max_length(c.type)
            if limit is not None:
                broken = pc.or_(broken, pc.fill_null(pc.greater(pc.utf8_length(col), limit), False))
            columns[c.name] = col
        if self.unknown:
            extra = [table.column(n).to_pylist() for n in self.unknown]
            columns[RESCUED] = pa.array([_rescue(dict(zip(self.unknown, vals))) for vals in zip(*extra)], pa.string())
        else:
            columns[RESCUED] = pa.nulls(table.num_rows, pa.string())
        return pa.table(columns), broken


def _one_line(
    raw: bytes, contract: Contract, names: list[str] | None, max_line: int | None
) -> tuple[str, str | None, dict | None]:
    """(the line as text, why it breaks the contract, or None and its row) of one line."""
    if max_line is not None and len(raw) > max_line:
        kept = raw[:LONG_LINE_KEPT].decode("utf-8", errors="replace")
        return kept, f"line longer than {max_line} bytes ({len(raw)}): its first {LONG_LINE_KEPT} kept", None
    text = raw.decode("utf-8", errors="replace")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:  # read on, a replacement character would land as data
        return text, f"not valid UTF-8 (byte {raw[e.start]:#04x} at {e.start})", None
    reason, texts, extras = line_texts(text, contract, names)
    if reason is not None:
        return text, reason, None
    reason, typed = check(texts, contract)
    if reason is not None:
        return text, reason, None
    return text, None, {**typed, RESCUED: _rescue(extras)}


def parse_lines(
    lines: list[bytes],
    contract: Contract,
    header: str | None = None,
    first_number: int = 1,
    max_line: int | None = None,
) -> Parsed:
    """Rows of ``lines`` (numbered from ``first_number``); a CSV file's lines come without
    their header, which names the columns. A line longer than ``max_line`` bytes is quarantined
    unread."""
    names = next(csv.reader([header])) if header is not None else None
    reader = _Reader(contract, names)
    schema = contract_schema(contract)
    # Lines Arrow could not take as a whole (blank, not even shaped like a JSON object, a CSV
    # line with an odd number of quotes, too long) go line by line from the start.
    if names is None:
        bulk = [i for i, ln in enumerate(lines) if ln[:1] == b"{" and ln[-1:] == b"}"]
    else:
        bulk = [i for i, ln in enumerate(lines) if ln and not ln.count(b'"') % 2]
    if max_line is not None:
        bulk = [i for i in bulk if len(lines[i]) <= max_line]
    if not is_utf8(b"\n".join(lines[i] for i in bulk)):  # Arrow's JSON reader takes any bytes as a string
        bulk = [i for i in bulk if is_utf8(lines[i])]
    single = sorted(set(range(len(lines))) - set(bulk)) if len(bulk) != len(lines) else []
    pieces = []
    todo = [bulk] if bulk else []
    while todo:
        seg = todo.pop()
        try:
            table, broken = reader.typed(reader.read([lines[i] for i in seg]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            if len(seg) < LINE_BY_LINE_BELOW:
                single.extend(seg)
            else:
                todo += [seg[len(seg) // 2 :], seg[: len(seg) // 2]]
            continue
        numbers = pa.array(seg, pa.int64())
        if pc.any(broken).as_py():
            single.extend(pc.filter(numbers, broken).to_pylist())
            table, numbers = table.filter(pc.invert(broken)), pc.filter(numbers, pc.invert(broken))
        pieces.append(table.append_column(LINE, numbers))

    bad: list[tuple[int, str, str]] = []
    good: list[dict] = []
    for i in sorted(single):
        text, reason, row = _one_line(lines[i], contract, names, max_line)
        if row is None:
            bad.append((first_number + i, text, reason or ""))
        else:
            good.append({**row, LINE: i})
    full = pa.schema(list(schema) + [pa.field(RESCUED, pa.string()), pa.field(LINE, pa.int64(), False)])
    if good:
        pieces.append(pa.Table.from_pylist(good, schema=full))
    rows = pa.concat_tables([p.cast(full) for p in pieces]) if pieces else full.empty_table()
    rows = rows.take(pc.sort_indices(rows.column(LINE)))
    rows = rows.set_column(
        rows.schema.get_field_index(LINE), pa.field(LINE, pa.int64(), False), pc.add(rows.column(LINE), first_number)
    )
    return Parsed(rows, bad, len(lines))


def check_header(header: str, contract: Contract) -> None:
    """Raises ``ValueError`` when a CSV header cannot describe its rows: every row would break
    the contract the same way, or which column a value belongs to is ambiguous."""
    names = next(csv.reader([header]))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"the header names {', '.join(map(repr, twice))} more than once")
    missing = [c.name for c in contract.columns if not c.nullable and c.name not in names]
    if missing:
        raise ValueError(f"the header lacks required column(s) {', '.join(map(repr, missing))}: {header[:200]!r}")


def parse_text(text: bytes, feed: Feed, max_line: int | None = None) -> Parsed:
    """A whole file's (decompressed) content: a CSV file's first line is its header. Raises
    ``ValueError`` for a file that cannot be read as a whole."""
    if text.startswith(UTF16_BOMS):
        raise ValueError("UTF-16 text (a UTF-16 byte order mark); the feed's files are UTF-8")
    lines = split_lines(text.removeprefix(UTF8_BOM))
    if feed.contract.format == "csv":
        if not lines:
            return Parsed(parse_lines([], feed.contract, "").rows)
        header = lines[0].decode("utf-8", errors="replace")
        check_header(header, feed.contract)
        parsed = parse_lines(lines[1:], feed.contract, header, first_number=2, max_line=max_line)
        parsed.read = len(lines) - 1
        return parsed
    if feed.contract.format == "jsonl.gz":
        return parse_lines(lines, feed.contract, max_line=max_line)
    raise ValueError(f"unknown file format {feed.contract.format!r}")


def partition_values(rows: pa.Table, feed: Feed) -> pa.Array:
    """The business date of a time-series feed's rows: a timestamptz is an instant, its date
    the operator's local date; a plain timestamp is already the local wall clock (stored as UTC)."""
    if feed.partition is None:
        raise ValueError(f"{feed.name} has no date partition")
    column, of = feed.partition
    ts = rows.column(of)
    if feed.contract.column(of).type == "timestamptz":
        local = pc.local_timestamp(ts.cast(pa.timestamp("us", tz=BUSINESS_TZ)))
    else:
        local = ts.cast(pa.timestamp("us"))
    return local.cast(pa.date32())
