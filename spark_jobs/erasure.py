"""Erasure on request (PIPL art. 47, like GDPR art. 17): one person's personal data out of every
layer of the lakehouse, then out of the files that held it. ``lakehouse/erase.py`` is the command.

The person is named by their phone as any source types it; from then on only its token
(``core.pii.token`` of the E.164 number) is used: no statement, Delta commit or log line of the
erasure carries the number. Every match is ``pii.token(<normalised column>) = '<token>'``, or, in
a raw text (a dead letter, a quarantined line), a mobile number in the text whose token it is.

- bronze, current state: the rows of every contract with a pii phone column whose phone is
  theirs, and the rows of their CRM customer and BSS account ids (their tickets);
- bronze, change logs: those rows' images and keys scrubbed, each change made an erased delete
  (``op = 'd'``, no images, key ``erased:<request>``): the rows stay, so the consumer's Kafka
  positions (the highest offset per partition a change log holds) never move back;
- bronze, dead letters and the landing quarantine; ``quality.quarantine``;
- silver and gold: every row whose ``user_key``/``user_id`` is the token or whose
  ``customer_id``/``subscriber_id`` is theirs (views hold nothing);
- then each touched table is purged: ``REORG ... APPLY (PURGE)`` rewrites the files whose
  deletion vectors only hide the rows, and ``VACUUM ... LITE RETAIN 0 HOURS`` deletes the files
  that held them (the files the log says were removed; a full VACUUM when the log no longer
  reaches back to the last one). Delta refuses a retention under its safety interval because a concurrent writer's
  uncommitted files could go too: the check is turned off for this session only, while the
  caller guarantees that no writer runs (``lakehouse/erase.py`` pauses them), and the override is
  recorded with the request in ``audit.erasure_requests``.

The personal columns of bronze carry no file statistics (``schemas.spark.stats_without``), so
``_delta_log`` never held the number. What the erasure cannot reach is reported, not hidden: the
source systems (their owners erase there first, or the next change brings the person back), the
Kafka topics (until their retention passes) and the landing zone's delivered files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from schemas.contracts import Contract, load_contracts
from spark_jobs import bronze
from spark_jobs.cdc import changes, current_state
from spark_jobs.landing import tables
from spark_jobs.maintenance import layer_dbs, with_retries

log = logging.getLogger(__name__)

AUDIT_DB = "audit"
REQUESTS_TABLE = f"{AUDIT_DB}.erasure_requests"
REQUESTS_SCHEMA = T.StructType(
    [
        T.StructField("request_id", T.StringType(), False),
        T.StructField("user_token", T.StringType(), False),  # never the number itself
        T.StructField("requested_by", T.StringType(), False),
        T.StructField("reason", T.StringType(), True),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("finished_at", T.TimestampType(), True),
        T.StructField("status", T.StringType(), False),  # erased | failed
        T.StructField("rows_erased", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("tables_vacuumed", T.ArrayType(T.StringType()), True),
        T.StructField("retention_override", T.StringType(), True),
        T.StructField("not_reached", T.ArrayType(T.StringType()), True),
        T.StructField("error", T.StringType(), True),
    ]
)
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# The person's ids in the sources, and the columns that carry them in every layer.
ID_COLUMNS = ("customer_id", "subscriber_id")
TOKEN_COLUMNS = ("user_key", "user_id", "user_token")


def e164_sql(column: str) -> str:
    """dbt/macros/normalize_phone.sql in Spark SQL: the E.164 number, or null."""
    digits = f"regexp_replace({column}, '[^0-9]', '')"
    return f"case when {digits} rlike '^(0086|86)?1[3-9][0-9]{{9}}$' then concat('+86', right({digits}, 11)) end"


def phone_is(column: str, token: str) -> str:
    return f"pii.token({e164_sql(column)}) = '{token}'"


def text_mentions(column: str, token: str) -> str:
    """A raw text (a JSON message, a line) holds a mobile number, in any typed form, that is theirs."""
    runs = f"regexp_extract_all(regexp_replace(cast({column} as string), '[ -]', ''), '1[3-9][0-9]{{9}}', 0)"
    return f"exists({runs}, n -> pii.token(concat('+86', n)) = '{token}')"


def _any(conditions: Iterable[str]) -> str:
    parts = [f"({c})" for c in conditions]
    return " or ".join(parts) if parts else "false"


def _in(column: str, ids: Iterable[int]) -> str | None:
    values = sorted(set(ids))
    return f"{column} in ({', '.join(str(int(v)) for v in values)})" if values else None


@dataclass
class Target:
    table: str
    condition: str
    scrub: str | None = None  # an UPDATE's SET list; None: the rows are deleted


@dataclass
class Erasure:
    request_id: str
    token: str
    rows: dict[str, int] = field(default_factory=dict)
    vacuumed: list[str] = field(default_factory=list)


def _phone_columns(contract: Contract) -> list[str]:
    return [c.name for c in contract.columns if c.pii and "phone" in c.name]


def person_ids(spark: SparkSession, token: str) -> dict[str, set[int]]:
    """Their CRM customer ids and BSS account ids, from the current state and the change logs
    (a customer deleted at the source keeps its last image there)."""
    ids: dict[str, set[int]] = {c: set() for c in ID_COLUMNS}
    for contract in changes.cdc_contracts():
        phones = _phone_columns(contract)
        for id_column in set(ID_COLUMNS) & set(contract.column_names):
            if contract.primary_key != (id_column,) or not phones:
                continue
            merged = current_state.merged_table_for(contract)
            if spark.catalog.tableExists(merged):
                where = _any(phone_is(p, token) for p in phones)
                ids[id_column] |= {r[0] for r in spark.sql(f"select {id_column} from {merged} where {where}").collect()}
            log_table = changes.change_table_for(contract)
            if spark.catalog.tableExists(log_table):
                where = _any(phone_is(f"{image}.{p}", token) for p in phones for image in ("before", "after"))
                ids[id_column] |= {
                    r[0]
                    for r in spark.sql(
                        f"select coalesce(after.{id_column}, before.{id_column}) from {log_table} where {where}"
                    ).collect()
                }
    return {k: {v for v in vs if v is not None} for k, vs in ids.items()}


def targets(spark: SparkSession, request_id: str, token: str, ids: dict[str, set[int]]) -> list[Target]:
    """What to delete or scrub, table by table (only tables that exist)."""
    out: list[Target] = []
    erased_change = f"op = 'd', before = null, after = null, key = 'erased:{request_id}'"
    for contract in load_contracts():
        phones = _phone_columns(contract)
        id_conditions = [_in(c, ids.get(c, ())) for c in ID_COLUMNS if c in contract.column_names]
        row = _any([*(phone_is(p, token) for p in phones), *filter(None, id_conditions)])
        if row == "false":
            continue
        if contract.is_database_table:
            out.append(Target(current_state.merged_table_for(contract), row))
            image = _any(
                [
                    *(phone_is(f"{i}.{p}", token) for p in phones for i in ("before", "after")),
                    *filter(
                        None,
                        (
                            _in(f"coalesce(after.{c}, before.{c})", ids.get(c, ()))
                            for c in ID_COLUMNS
                            if c in contract.column_names
                        ),
                    ),
                ]
            )
            out.append(Target(changes.change_table_for(contract), image, scrub=erased_change))
        else:
            out.append(Target(bronze.table_name(f"{contract.source}_{contract.name}"), row))  # a landed feed
    out.append(
        Target(changes.dead_letter_table(), _any([text_mentions("raw_key", token), text_mentions("raw_value", token)]))
    )
    out.append(Target(tables.quarantine_table(), text_mentions("raw_line", token)))
    dbs = layer_dbs()
    out.append(
        Target(
            f"{dbs['quality']}.quarantine", _any([text_mentions("key_value", token), text_mentions("row_json", token)])
        )
    )
    for layer in ("silver", "gold"):
        out += _model_targets(spark, dbs[layer], token, ids)
    return [t for t in out if _is_table(spark, t.table)]


def _model_targets(spark: SparkSession, db: str, token: str, ids: dict[str, set[int]]) -> list[Target]:
    if not spark.catalog.databaseExists(db):
        return []
    out = []
    for t in spark.catalog.listTables(db):
        if t.isTemporary or (t.tableType or "").upper() == "VIEW":
            continue
        table = f"{db}.{t.name}"
        columns = set(spark.table(table).columns)
        conditions = [f"{c} = '{token}'" for c in TOKEN_COLUMNS if c in columns]
        conditions += filter(None, (_in(c, ids.get(c, ())) for c in ID_COLUMNS if c in columns))
        if conditions:
            out.append(Target(table, _any(conditions)))
    return out


def _is_table(spark: SparkSession, table: str) -> bool:
    return spark.catalog.tableExists(table) and (spark.catalog.getTable(table).tableType or "").upper() != "VIEW"


def erase(spark: SparkSession, request_id: str, token: str, progress=print) -> Erasure:
    """Delete or scrub the person's rows everywhere, then purge and vacuum what was touched.
    The caller guarantees that no other writer runs (see the module's docstring)."""
    result = Erasure(request_id, token)
    ids = person_ids(spark, token)
    progress(
        f"erasure {request_id}: token {token}, customer ids {sorted(ids['customer_id'])}, "
        f"account ids {sorted(ids['subscriber_id'])}"
    )
    for target in targets(spark, request_id, token, ids):
        n = spark.sql(f"select count(*) from {target.table} where {target.condition}").collect()[0][0]
        if not n:
            continue
        if target.scrub:
            statement = f"update {target.table} set {target.scrub} where {target.condition}"
        else:
            statement = f"delete from {target.table} where {target.condition}"
        with_retries(partial(_run, spark, statement))
        result.rows[target.table] = n
        progress(f"  {target.table}: {n} rows {'scrubbed' if target.scrub else 'deleted'}")
    for table in sorted(result.rows):
        purge(spark, table)
        result.vacuumed.append(table)
    progress(f"  purged and vacuumed {len(result.vacuumed)} tables (retention 0 hours)")
    return result


def _run(spark: SparkSession, statement: str) -> None:
    spark.sql(statement).collect()


def purge(spark: SparkSession, table: str) -> None:
    """No file of ``table`` holds what its latest version deleted: deletion vectors applied by
    rewriting their files, then every file the latest version does not read deleted."""
    props = {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}
    if props.get("delta.enableDeletionVectors") == "true":
        with_retries(lambda: spark.sql(f"reorg table {table} apply (purge)").collect())
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        try:
            # LITE deletes the files the log says were removed, without listing the directory:
            # a tenth of the time, and every file the erasure rewrote is such a file
            spark.sql(f"vacuum {table} lite retain 0 hours").collect()
        except Exception as e:  # noqa: BLE001 - a log cleaned since the last vacuum: the full one
            log.info("erasure: %s needs a full vacuum (%s)", table, str(e).splitlines()[0][:200])
            spark.sql(f"vacuum {table} retain 0 hours").collect()
    finally:
        spark.conf.set(RETENTION_CHECK, "true")


def ensure_requests_table(spark: SparkSession) -> None:
    spark.sql(f"create database if not exists {AUDIT_DB}")
    spark.sql(f"create table if not exists {REQUESTS_TABLE} ({bronze.ddl_columns(REQUESTS_SCHEMA.fields)}) using delta")


def record(spark: SparkSession, row: dict) -> None:
    """One row per request (written when it ends, whatever the outcome)."""
    ensure_requests_table(spark)
    values = {f.name: row.get(f.name) for f in REQUESTS_SCHEMA.fields}
    spark.createDataFrame([values], REQUESTS_SCHEMA).write.format("delta").mode("append").saveAsTable(REQUESTS_TABLE)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
