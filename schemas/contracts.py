"""Source data contracts: one YAML file per entity under ``schemas/contracts/<source>/``.

A contract declares an entity's columns (type, nullability, PII, allowed values), its key and
its quality rules. Postgres DDL, Spark schemas, dbt sources and GX suites are derived from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CONTRACTS_DIR = Path(__file__).parent / "contracts"

# Contract types are SQL types; these are the ones the derivations know how to map.
_TYPE_RE = re.compile(
    r"^(bigint|int|smallint|boolean|double|date|timestamp|timestamptz|text|varchar\(\d+\)|decimal\(\d+,\s*\d+\))$"
)
# Source, table and column names are written into SQL unquoted (Postgres DDL, the Delta tables
# `bronze.<source>_<name>`, the CDC MERGE, dbt sources) and into Kafka topic names.
_IDENTIFIER_RE = re.compile(r"^[a-z][a-z0-9_]*\Z")


class ContractError(ValueError):
    """A contract file that cannot be used, with the file and the reason."""


DIMENSIONS = ("completeness", "accuracy", "consistency", "validity", "uniqueness", "integrity")
SEVERITIES = ("critical", "warning")
# What a failed rule does: stop the step that feeds the next layer, quarantine the offending rows
# (they do not reach the next layer), or only record and report it.
ACTIONS = ("stop", "quarantine", "record")
# How a file feed's rows meet the rows bronze holds: events are appended once per key (a re-sent
# key is a duplicate); reference data is upserted by key, the row with the newer version winning.
LANDING_MODES = ("append", "upsert")
# Types whose order is a version's order.
_VERSION_TYPES = ("smallint", "int", "bigint", "date", "timestamp", "timestamptz")
# Who answers for an entity (REQUIREMENTS, governance): IT for its collection, a business
# department for its use, as `owner: IT (collection) / billing (use)`.
_OWNER_RE = re.compile(r"^(?P<collection>[^/()]+?) \(collection\) / (?P<use>[^/()]+?) \(use\)$")


@dataclass(frozen=True)
class Rule:
    rule: str
    dimension: str
    severity: str
    threshold: float = 1.0  # the pass rate below which the rule fails (1.0: every row must pass)
    action: str = ""  # default: stop when critical, record when a warning

    def __post_init__(self):
        if self.dimension not in DIMENSIONS:
            raise ValueError(f"rule {self.rule!r}: dimension {self.dimension!r} is not one of {', '.join(DIMENSIONS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.rule!r}: severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not self.action:
            object.__setattr__(self, "action", "stop" if self.severity == "critical" else "record")
        if self.action not in ACTIONS:
            raise ValueError(f"rule {self.rule!r}: action {self.action!r} is not one of {', '.join(ACTIONS)}")
        if self.severity == "warning" and self.action != "record":
            raise ValueError(f"rule {self.rule!r}: a warning can only be recorded; make it critical to {self.action}")
        if not 0.0 < float(self.threshold) <= 1.0:
            raise ValueError(f"rule {self.rule!r}: threshold {self.threshold!r} must be a pass rate in (0, 1]")


@dataclass(frozen=True)
class Landing:
    """A file feed's landing semantics (``landing:`` in the contract; default append)."""

    mode: str = "append"
    version_column: str | None = None  # upsert: the column whose greater value is the newer row


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    pii: bool = False
    description: str = ""
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    rules: tuple[Rule, ...] = ()

    @property
    def base_type(self) -> str:
        return self.type.split("(")[0]


@dataclass(frozen=True)
class Contract:
    name: str
    source: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    owner: str = ""
    format: str | None = None  # None: a database table captured by CDC; else the landed file format
    mappings: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)
    landing: Landing = Landing()
    path: Path | None = field(default=None, compare=False)

    @property
    def is_database_table(self) -> bool:
        return self.format is None

    @property
    def qualified_name(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def owners(self) -> tuple[str, str]:
        """(collection, use): who collects the data and who uses it; empty without an owner."""
        found = _OWNER_RE.match(self.owner)
        return (found["collection"], found["use"]) if found else ("", "")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.qualified_name} has no column {name!r}")


def parse_contract(doc: dict, path: Path | None = None) -> Contract:
    where = str(path or doc.get("name", "<contract>"))
    try:
        columns = tuple(
            Column(
                name=c["name"],
                type=str(c["type"]).lower(),
                nullable=bool(c.get("nullable", True)),
                pii=bool(c.get("pii", False)),
                description=c.get("description", ""),
                allowed=tuple(str(v) for v in c["allowed"]) if c.get("allowed") else None,
                pattern=c.get("pattern"),
                rules=tuple(Rule(**r) for r in c.get("rules", ())),
            )
            for c in doc["columns"]
        )
        contract = Contract(
            name=doc["name"],
            source=doc["source"],
            primary_key=tuple(doc["primary_key"]),
            columns=columns,
            description=doc.get("description", ""),
            owner=doc.get("owner", ""),
            format=doc.get("format"),
            mappings={k: {str(a): str(b) for a, b in v.items()} for k, v in (doc.get("mappings") or {}).items()},
            landing=Landing(**doc["landing"]) if "landing" in doc else Landing(),
            path=path,
        )
    except (KeyError, TypeError) as e:
        raise ContractError(f"{where}: missing or malformed field {e}") from e
    except ValueError as e:
        raise ContractError(f"{where}: {e}") from e
    for kind, name in [
        ("source", contract.source),
        ("table", contract.name),
        *(("column", n) for n in contract.column_names),
    ]:
        if not isinstance(name, str) or not _IDENTIFIER_RE.match(name):
            raise ContractError(
                f"{where}: {kind} name {name!r} is not a plain identifier (lower-case letters, digits, _)"
            )
    if contract.owner and not _OWNER_RE.match(contract.owner):
        raise ContractError(
            f"{where}: owner {contract.owner!r} is not '<who> (collection) / <who> (use)', "
            "e.g. 'IT (collection) / billing (use)'"
        )
    for c in columns:
        if not _TYPE_RE.match(c.type):
            raise ContractError(f"{where}: column {c.name!r} has unsupported type {c.type!r}")
    if contract.format not in (None, "csv", "jsonl.gz"):
        raise ContractError(
            f"{where}: unknown format {contract.format!r} (csv, jsonl.gz, or none for a database table)"
        )
    for c in columns:
        if c.pattern:
            try:
                re.compile(c.pattern)
            except re.error as e:
                raise ContractError(f"{where}: column {c.name!r} pattern does not compile: {e}") from e
    names = contract.column_names
    for col in contract.mappings:
        if col not in names:
            raise ContractError(f"{where}: mapping for unknown column {col!r}")
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    for k in contract.primary_key:
        if k not in names:
            raise ContractError(f"{where}: primary key column {k!r} is not a column")
        if contract.column(k).nullable:
            raise ContractError(f"{where}: primary key column {k!r} must be nullable: false")
    _check_landing(contract, where)
    return contract


def _check_landing(contract: Contract, where: str) -> None:
    landing = contract.landing
    if landing == Landing():
        return
    if contract.is_database_table:
        raise ContractError(f"{where}: landing applies to file feeds only (this contract has no format)")
    if landing.mode not in LANDING_MODES:
        raise ContractError(f"{where}: landing mode {landing.mode!r} is not one of {', '.join(LANDING_MODES)}")
    version = landing.version_column
    if landing.mode == "append":
        if version is not None:
            raise ContractError(f"{where}: landing mode append takes no version_column (upsert does)")
        return
    if version is None:
        raise ContractError(f"{where}: landing mode upsert needs a version_column (the newer row wins)")
    if version not in contract.column_names:
        raise ContractError(f"{where}: landing version_column {version!r} is not a column")
    column = contract.column(version)
    if column.nullable:
        raise ContractError(f"{where}: landing version_column {version!r} must be nullable: false")
    if column.type not in _VERSION_TYPES:
        raise ContractError(
            f"{where}: landing version_column {version!r} has type {column.type!r}, "
            f"not one of {', '.join(_VERSION_TYPES)}"
        )
    if version in contract.primary_key:
        raise ContractError(f"{where}: landing version_column {version!r} is part of the primary key")


@cache
def load_contracts(source: str | None = None) -> tuple[Contract, ...]:
    """All contracts (of one source system when given), sorted by qualified name."""
    paths = sorted(CONTRACTS_DIR.glob(f"{source or '*'}/*.yaml"))
    return tuple(parse_contract(yaml.safe_load(p.read_text()), p) for p in paths)


def get_contract(qualified_name: str) -> Contract:
    for c in load_contracts():
        if c.qualified_name == qualified_name:
            return c
    raise KeyError(f"no contract named {qualified_name!r} under {CONTRACTS_DIR}")
