"""Every item of the CDC bad-input corpus (``tests/data/bad_inputs/cdc/manifest.yaml``) is
landed, dead-lettered with its reason or skipped as a tombstone, never a crash, counted exactly:
through both parsing paths the readers use (column-wise ``columnar.parse_slice`` and record by
record ``envelope.parse_event``, as ``reader.parse_poll`` chooses), then through the consumer's
writer (``consumer.BatchWriter``) into this module's own bronze database."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from kafka import TopicPartition

from spark_jobs import bronze
from spark_jobs.cdc import changes, current_state
from spark_jobs.cdc.columnar import parse_slice
from spark_jobs.cdc.consumer import BatchWriter, RunStats
from spark_jobs.cdc.envelope import PoisonMessage, parse_event
from spark_jobs.cdc.reader import Batch, parse_poll
from tests.bad_inputs import CDC_CORPUS, Item, load_cdc_corpus, outcome_table, referenced_files

pytestmark = pytest.mark.spark
CORPUS = load_cdc_corpus()
CONTRACTS = {changes.topic_for(c): c for c in changes.cdc_contracts()}
OFFSET_STEP = 1000  # item i's records sit at offsets 1000*(i+1)...: distinct, in corpus order


def _first_offset(item: Item) -> int:
    return OFFSET_STEP * (CORPUS.index(item) + 1)


def _poll(items: list[Item]) -> Batch:
    """One poll of these items as a reader makes it: each topic's records in one partition's slice."""
    by_tp = defaultdict(list)
    for item in items:
        by_tp[TopicPartition(item.topic, 0)].extend(item.records(_first_offset(item)))
    return parse_poll(1, dict(by_tp), CONTRACTS, datetime.now(UTC))


def _landed(batch: Batch, item: Item) -> list[dict]:
    first = _first_offset(item)
    rows = [r for t in batch.changes.get(item.topic, []) for r in t.to_pylist()]
    return [r for r in rows if first <= r["kafka_offset"] < first + OFFSET_STEP]


def test_the_corpus_is_complete_and_consistent():
    assert len(CORPUS) >= 30 and len({i.id for i in CORPUS}) == len(CORPUS)
    for item in CORPUS:
        assert item.topic in CONTRACTS, item.id
        assert item.landed + item.dead + item.tombstones == len(item.messages), item.id
        assert bool(item.dead) == bool(item.expect.get("reason")), f"{item.id}: a reason for each dead letter"
    on_disk = {p.name for p in (CDC_CORPUS / "messages").iterdir()}
    assert referenced_files() == on_disk, "every message file in the manifest, and no other"
    assert sum(len(v) for _, v in CORPUS[[i.id for i in CORPUS].index("oversized-string")].messages) > 5_000_000


@pytest.mark.parametrize("item", CORPUS, ids=lambda i: i.id)
def test_each_item_parses_to_its_outcome_on_both_paths(item):
    contract = CONTRACTS[item.topic]
    live = [r for r in item.records(_first_offset(item)) if r.value is not None]
    # Record by record: a row or a PoisonMessage, never another exception.
    parsed, poisoned = 0, 0
    for r in live:
        try:
            parse_event(r.key, r.value, contract)
            parsed += 1
        except PoisonMessage:
            poisoned += 1
    assert (parsed, poisoned) == (item.landed, item.dead)
    # Column-wise: takes only a slice it can make exactly; anything else it hands back (None).
    fast = parse_slice(
        contract,
        changes.parsed_schema(contract),
        [r.key for r in live],
        [r.value for r in live],
        item.topic,
        0,
        [r.offset for r in live],
    )
    assert (fast is not None) == item.expect.get("fast_path", False), "fast path taken" if fast else "fell back"
    # The reader's own choice of the two.
    batch = _poll([item])
    landed = _landed(batch, item)
    assert (len(landed), len(batch.dead), batch.tombstones) == (item.landed, item.dead, item.tombstones)
    if fast is not None:
        assert fast.to_pylist() == landed, "the column-wise rows are the record-by-record rows"
    for dead in batch.dead:
        assert item.expect["reason"] in dead[5], dead[5]
        assert len(dead[5]) < 1000, "a reason, not a copy of the message (the raw bytes are kept beside it)"
        assert (dead[3], dead[4]) in item.messages, "the raw key and value, byte for byte"
    if "key" in item.expect:
        assert {r["key"] for r in landed} == {item.expect["key"]}
    if "extra_columns" in item.expect:
        assert [sorted(k for k, _ in r["extra_columns"]) for r in landed] == [item.expect["extra_columns"]]


@pytest.fixture(scope="module")
def bronze_outcomes(spark, own_bronze_db):
    """The whole corpus as one poll, written by the consumer's writer; what bronze then holds per item."""
    contracts = sorted({CONTRACTS[i.topic] for i in CORPUS}, key=lambda c: c.qualified_name)
    changes.ensure_tables(spark, contracts)
    batch = _poll(CORPUS)
    stats = RunStats()
    writer = BatchWriter(spark, {changes.topic_for(c): c for c in contracts}, stats, "bad-input-corpus")
    writer.submit(batch)
    writer.close()  # raises what the writer hit: a row that broke the batch's write
    landed = defaultdict(list)
    for c in contracts:
        table = spark.table(changes.change_table_for(c))
        for r in table.select("kafka_topic", "kafka_partition", "kafka_offset", "key").collect():
            landed[(r.kafka_topic, r.kafka_offset // OFFSET_STEP)].append(r)
    dead = defaultdict(list)
    for r in spark.table(changes.dead_letter_table()).collect():
        dead[(r.kafka_topic, r.kafka_offset // OFFSET_STEP)].append(r)
    return stats, batch, landed, dead


def test_the_corpus_lands_in_bronze_counted_exactly(bronze_outcomes, capsys):
    stats, batch, landed, dead = bronze_outcomes
    table = []
    for n, item in enumerate(CORPUS, start=1):
        rows, letters = landed[(item.topic, n)], dead[(item.topic, n)]
        tombstones = item.tombstones  # a batch counts them, not per record: checked in total below
        assert (len(rows), len(letters)) == (item.landed, item.dead), item.id
        for d in letters:
            assert item.expect["reason"] in d.error, (item.id, d.error)
            assert (bytes(d.raw_key) if d.raw_key is not None else None, bytes(d.raw_value)) in item.messages
        table.append(
            (
                item.id,
                item.topic,
                len(item.messages),
                len(rows),
                len(letters),
                tombstones,
                letters[0].error if letters else "",
            )
        )
    assert (stats.changes, stats.dead_letters, stats.tombstones) == (
        sum(i.landed for i in CORPUS),
        sum(i.dead for i in CORPUS),
        sum(i.tombstones for i in CORPUS),
    )
    assert (
        sum(len(v) for v in landed.values()) == stats.changes
        and sum(len(v) for v in dead.values()) == stats.dead_letters
    )
    with capsys.disabled():
        print(f"\nCDC bad-input corpus: {len(CORPUS)} kinds, {sum(len(i.messages) for i in CORPUS)} records\n")
        print(outcome_table(table))
        print(f"\ntotal: {stats.changes} landed, {stats.dead_letters} dead letters, {stats.tombstones} tombstones\n")


def test_a_duplicate_delivery_lands_twice_and_is_applied_once(spark, bronze_outcomes):
    """The change log is at least once by Kafka offset; the current state takes the change once."""
    dup = next(i for i in CORPUS if i.id == "duplicate-delivery")
    stats, batch, landed, dead = bronze_outcomes
    assert len(landed[(dup.topic, CORPUS.index(dup) + 1)]) == 2
    customers = CONTRACTS[dup.topic]
    current_state.apply_changes(spark, customers)
    key = dup.messages[0][0].decode()
    rows = spark.table(current_state.current_table_for(customers)).where(f"_key = '{key}'").collect()
    assert [(r.customer_id, r.city, r._is_deleted) for r in rows] == [(70, "dup", False)]
    deleted = json.loads(next(i for i in CORPUS if i.id == "delete-then-tombstone").messages[0][0])["customer_id"]
    assert spark.table(current_state.current_table_for(customers)).where(f"customer_id = {deleted}").select(
        "_is_deleted"
    ).collect() == [(True,)]


def test_a_null_in_a_required_column_would_fail_its_whole_batch(spark, bronze_outcomes):
    """Why ``required-column-null`` is dead-lettered by the parser: as a row, the writer refuses it,
    and with it every change of its batch (a consumer that could never get past it)."""
    contract = CONTRACTS["bss.public.orders"]
    item = next(i for i in CORPUS if i.id == "required-column-null")
    envelope = json.loads(item.messages[0][1])
    envelope["after"]["amount"] = "29.90"
    row = parse_event(item.messages[0][0], json.dumps(envelope).encode(), contract)
    broken = dataclasses.replace(row, after={**row.after, "amount": None})
    rows = changes.stamp_ingested_at(
        contract, changes.change_rows_arrow(contract, [(broken, 9, 1)], item.topic), bronze.now_utc()
    )
    location = bronze.table_location(spark, changes.change_table_for(contract))
    with pytest.raises(Exception, match="(?i)null"):
        changes.append_changes(spark, contract, rows, location)
