"""The file feeds of the landing zone, derived from the contracts with a file format.

A feed is one contract: its files live under ``<landing root>/<source>/<name>/``, its bronze
table (``tables.py``) holds one row per primary key (the first landed for an append feed, the
newest version for an upsert feed: the contract's ``landing``) and, for time series, is
partitioned by the business date of one timestamp column.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.contracts import Contract, get_contract, load_contracts

# Business dates are the operator's local dates (China Standard Time).
BUSINESS_TZ = "Asia/Shanghai"
# Time-series feeds: partition column -> the timestamp it is the date of.
DATE_PARTITIONS = {
    "network.cell_kpis": ("period_date", "period_start"),
    "app.events": ("event_date", "event_at"),
}
GLOBS = {"csv": "*.csv", "jsonl.gz": "*.jsonl.gz"}


@dataclass(frozen=True)
class Feed:
    contract: Contract

    @property
    def name(self) -> str:
        return self.contract.qualified_name

    @property
    def file_format(self) -> str:
        """The landed file format ("" for a database table, which is not a file feed)."""
        return self.contract.format or ""

    @property
    def subdir(self) -> str:
        return f"{self.contract.source}/{self.contract.name}"

    @property
    def glob(self) -> str:
        return GLOBS[self.file_format]

    @property
    def partition(self) -> tuple[str, str] | None:
        """(date partition column, timestamp column it derives from), or None."""
        return DATE_PARTITIONS.get(self.name)


def file_feeds() -> list[Feed]:
    return [Feed(c) for c in load_contracts() if not c.is_database_table]


def get_feed(name: str) -> Feed:
    return Feed(get_contract(name))
