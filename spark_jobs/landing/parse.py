"""Landed files to contract-typed rows, each with its file, line number and, if it breaks the
contract, the reason. Pure DataFrame transforms, no writes.

Both formats become the contract's columns as text first (JSON objects by key, CSV fields by
the file's own header), so checking and typing by the contract is one piece of code; a column
the contract does not know is kept aside to be rescued.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from schemas.contracts import Contract
from schemas.spark import spark_type
from spark_jobs.landing.feeds import BUSINESS_TZ, Feed
from spark_jobs.landing.tables import RESCUED

@dataclass
class Lines:
    frame: DataFrame  # file_path, line_number, line
    first: dict[str, str]  # each file's first line: a CSV file's header


def read_lines(spark: SparkSession, paths: list[str]) -> Lines:
    """Every line of the files with its number, and each file's first line.

    Lines are read by Spark's text source, in parallel, a large file split into blocks. A task
    reads a block's lines in order, so a line's number is its row id minus the id of its block's
    first row, plus the lines of the file's earlier blocks: one small aggregate finds both, and
    each block's first line with them (so CSV headers need no pass of their own).
    A corrupt or truncated file fails the read; the caller isolates it."""
    text = spark.read.text(paths).select(
        F.col("_metadata.file_path").alias("file_path"), F.col("_metadata.file_block_start").alias("_block"),
        F.col("value").alias("line"), F.monotonically_increasing_id().alias("_id"))
    blocks = text.groupBy("file_path", "_block").agg(
        F.min("_id").alias("_first"), F.count("*").alias("_n"), F.min_by("line", "_id").alias("_first_line")).collect()
    offsets, before, first = [], {}, {}
    for b in sorted(blocks, key=lambda b: (b.file_path, b._block)):
        offsets.append((b.file_path, b._block, b._first, before.get(b.file_path, 0)))
        before[b.file_path] = before.get(b.file_path, 0) + b._n
        first.setdefault(b.file_path, b._first_line.removesuffix("\r"))
    starts = spark.createDataFrame(offsets, "file_path string, _block long, _first long, _before long")
    frame = (
        text.join(F.broadcast(starts), ["file_path", "_block"])
        .select("file_path", (F.col("_id") - F.col("_first") + F.col("_before") + 1).alias("line_number"),
                F.regexp_replace("line", "\r$", "").alias("line"))
    )
    return Lines(frame, first)


def _csv_texts(lines: Lines, contract: Contract) -> DataFrame:
    """CSV lines read by Spark's own CSV parser, with the schema of each file's header (files of
    one feed may differ, e.g. after an exporter upgrade added a column)."""
    spark = lines.frame.sparkSession
    first = spark.createDataFrame(list(lines.first.items()), "file_path string, _header string")
    rows = lines.frame.where("line_number > 1").join(F.broadcast(first), "file_path")
    headers = sorted(set(lines.first.values()))
    if not headers:  # no file has a line
        return rows.select("file_path", "line_number", "line", F.lit(None).alias("t"), F.lit(None).alias("_extras"),
                           F.lit(None).cast("string").alias("_malformed"))
    known = set(contract.column_names)
    parsed, texts, extras, corrupt = [], [], [], []
    for i, header in enumerate(headers):
        names = next(csv.reader([header]))
        schema = ", ".join(f"`{n}` string" for n in names) + ", _corrupt string"
        options = {"columnNameOfCorruptRecord": "_corrupt", "escape": '"'}  # RFC 4180: "" is a quote
        # Only the rows of files with this header are parsed with it.
        parsed.append(F.when(F.col("_header") == header, F.from_csv("line", schema, options)).alias(f"_s{i}"))
        s = F.col(f"_s{i}")
        texts.append(F.when(s.isNotNull(), F.struct(*[
            (s[c] if c in names else F.lit(None).cast("string")).alias(c) for c in contract.column_names])))
        unknown = [n for n in names if n not in known]
        if unknown:
            extras.append(F.when(s.isNotNull(), F.create_map(*[x for n in unknown for x in (F.lit(n), s[n])])))
        corrupt.append(s["_corrupt"])
    extra = F.coalesce(*extras) if extras else F.lit(None).cast("map<string,string>")
    return rows.select("file_path", "line_number", "line", *parsed).select(
        "file_path", "line_number", "line", F.coalesce(*texts).alias("t"), extra.alias("_extras"),
        F.when(F.col("line") == "", F.lit("blank line"))
        .when(F.coalesce(*corrupt).isNotNull(), F.lit("not as many fields as the file's header")).alias("_malformed"),
    )


def as_texts(lines: Lines, contract: Contract) -> DataFrame:
    """Each data line as the contract's columns in text (struct ``t``), the columns the contract
    does not know (map ``_extras``), or the reason it cannot be read (``_malformed``)."""
    columns = contract.column_names
    if contract.format == "jsonl.gz":
        schema = "struct<" + ", ".join(f"`{c}`: string" for c in columns) + ", _corrupt: string>"
        t = F.from_json("line", schema, {"columnNameOfCorruptRecord": "_corrupt"})
        # Any key that is not a column (JSON may be spaced): only then parse the line again as a map.
        unknown_key = r'[{,]\s*"(?!(?:' + "|".join(re.escape(c) for c in columns) + r')"\s*:)[^"]*"\s*:'
        known = F.array(*[F.lit(c) for c in columns])
        extras = F.when(F.col("line").rlike(unknown_key), F.map_filter(
            F.from_json("line", "map<string,string>"), lambda k, v: ~F.array_contains(known, k)))
        parsed = lines.frame.select("*", t.alias("t"), extras.alias("_extras"))
        return parsed.withColumn("_malformed", F.when(F.col("line") == "", F.lit("blank line"))
                                 .when(F.col("t").isNull() | F.col("t._corrupt").isNotNull(), F.lit("not a JSON object")))
    if contract.format == "csv":
        return _csv_texts(lines, contract)
    raise ValueError(f"unknown file format {contract.format!r}")


def _typed(text: Column, contract_type: str) -> Column:
    if contract_type.startswith(("varchar", "text")):
        return text
    if contract_type in ("timestamp", "timestamptz"):
        return text.try_cast("timestamp")
    return text.try_cast(spark_type(contract_type))


def check_and_type(texts: DataFrame, contract: Contract) -> DataFrame:
    """Typed contract columns, ``_reason`` (the first broken rule, null when the row is good) and
    the rescued unknown columns as JSON."""
    problems, typed = [F.col("_malformed")], {}
    for c in contract.columns:
        text = F.col("t")[c.name]
        typed[c.name] = _typed(text, c.type)
        if not c.nullable:
            problems.append(F.when(text.isNull(), F.lit(f"column {c.name!r}: required but missing")))
        if not c.type.startswith(("varchar", "text")):
            problems.append(F.when(text.isNotNull() & typed[c.name].isNull(),
                                   F.format_string(f"column {c.name!r}: cannot read '%s' as {c.type}", text)))
        length = re.fullmatch(r"varchar\((\d+)\)", c.type)
        if length:
            problems.append(F.when(F.length(text) > int(length.group(1)),
                                   F.lit(f"column {c.name!r}: longer than {length.group(1)} characters")))
    return texts.select(
        "file_path", "line_number", "line",
        F.coalesce(*problems).alias("_reason"),
        *[v.alias(k) for k, v in typed.items()],
        F.when(F.size("_extras") > 0, F.to_json("_extras")).alias(RESCUED),
    )


def with_partition(rows: DataFrame, feed: Feed) -> DataFrame:
    """The business-date partition column of a time-series feed."""
    if not feed.partition:
        return rows
    column, of = feed.partition
    ts = F.col(of)
    # timestamptz is an instant: its date is the operator's local date; a plain timestamp is
    # already the local wall clock.
    local = F.from_utc_timestamp(ts, BUSINESS_TZ) if feed.contract.column(of).type == "timestamptz" else ts
    return rows.withColumn(column, F.to_date(local))


def parse_files(spark: SparkSession, paths: list[str], feed: Feed) -> DataFrame:
    return with_partition(check_and_type(as_texts(read_lines(spark, paths), feed.contract), feed.contract), feed)
