"""The quality rules of each layer, derived from the contracts in ``schemas/``.

Bronze: every contract's primary key (unique), required columns (not null), allowed values,
patterns and its explicit rules on their own column. Silver and gold: the contract rules that
need conformed or joined data (``catalogue.yaml`` says where), and the models' keys. Each
:class:`Check` turns into one Great Expectations expectation, and into the SQL predicate that
finds its offending rows (for quarantine). Pure: no Spark here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from schemas.contracts import Contract, Rule, load_contracts

LAYERS = ("bronze", "silver", "gold")
CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
KINDS = ("not_null", "unique", "in_set", "regex", "pair_equal", "exists_in")
_INT_TYPES = ("bigint", "int", "smallint")


class RuleConfigError(ValueError):
    """A contract rule the catalogue cannot place, or a catalogue entry that cannot be checked."""


@dataclass(frozen=True)
class Check:
    """One rule on one table of one layer."""

    layer: str
    table: str  # bronze: the contract's qualified name (crm.customers); else the dbt model
    source: str  # the source system it is about (crm, bss, network, app), for the scorecard
    rule: str
    dimension: str
    severity: str
    threshold: float
    action: str  # stop | quarantine | record
    kind: str
    columns: tuple[str, ...]
    where: str | None = None  # only rows where this holds are checked
    values: tuple = ()  # in_set
    pattern: str | None = None  # regex
    ref: str | None = None  # exists_in: "<model>.<column>" in the same layer

    @property
    def name(self) -> str:
        return f"{self.table}.{'+'.join(self.columns)}.{self.rule}"

    @property
    def key_column(self) -> str:
        """unique: the column whose values must be distinct (a compound key as one struct)."""
        return self.columns[0] if len(self.columns) == 1 else "_key__" + "__".join(self.columns)

    @property
    def runs_in_pandas(self) -> bool:
        """Whether GX on pandas counts this check as on Spark: no Spark SQL row condition, no
        join, and a pattern Python's regex engine reads (Java's and Python's agree on plain ones)."""
        if self.where or self.kind == "exists_in":
            return False
        if self.kind == "regex":
            try:
                re.compile(self.pattern)
            except re.error:
                return False
        return True

    @property
    def ref_column(self) -> str:
        """exists_in: the frame column holding the matched reference key (null: no match)."""
        return f"_ref_{self.columns[0]}"

    def expectation(self):
        """The Great Expectations expectation, with the rule's identity in ``meta``."""
        import great_expectations as gx

        meta = {
            "check": self.name,
            "rule": self.rule,
            "dimension": self.dimension,
            "severity": self.severity,
            "action": self.action,
            "threshold": self.threshold,
        }
        common = {"meta": meta, **({"row_condition": self.where, "condition_parser": "spark"} if self.where else {})}
        col = self.columns[0]
        if self.kind == "not_null":
            return gx.expectations.ExpectColumnValuesToNotBeNull(column=col, **common)
        if self.kind == "unique":
            # an aggregate (distinct count / count: one hash aggregation), not GX's row-level
            # uniqueness (a window over the whole table: minutes and the heap at 10M rows)
            return gx.expectations.ExpectColumnProportionOfUniqueValuesToBeBetween(
                column=self.key_column, min_value=1.0, max_value=1.0, **common
            )
        if self.kind == "in_set":
            return gx.expectations.ExpectColumnValuesToBeInSet(column=col, value_set=list(self.values), **common)
        if self.kind == "regex":
            return gx.expectations.ExpectColumnValuesToMatchRegex(column=col, regex=self.pattern, **common)
        if self.kind == "pair_equal":
            return gx.expectations.ExpectColumnPairValuesToBeEqual(
                column_A=col, column_B=self.columns[1], ignore_row_if="either_value_is_missing", **common
            )
        if self.kind == "exists_in":
            cond = f"{col} IS NOT NULL" + (f" AND ({self.where})" if self.where else "")
            return gx.expectations.ExpectColumnValuesToNotBeNull(
                column=self.ref_column, row_condition=cond, condition_parser="spark", meta=meta
            )
        raise RuleConfigError(f"{self.name}: unknown kind {self.kind!r}")

    def failing_sql(self) -> str:
        """A Spark SQL predicate true on exactly the rows GX counts as failing. ``unique`` needs
        the frame's ``_key_copy`` column (the row's number among the rows sharing its key)."""
        col = self.columns[0]
        if self.kind == "not_null":
            bad = f"{col} is null"
        elif self.kind == "unique":  # every copy of a key after its first
            bad = " and ".join(f"{c} is not null" for c in self.columns) + " and _key_copy > 1"
        elif self.kind == "in_set":
            bad = f"{col} is not null and {col} not in ({', '.join(_sql_literal(v) for v in self.values)})"
        elif self.kind == "regex":
            bad = f"{col} is not null and not {col} rlike {_sql_literal(self.pattern)}"
        elif self.kind == "pair_equal":
            bad = f"{col} is not null and {self.columns[1]} is not null and {col} <> {self.columns[1]}"
        elif self.kind == "exists_in":
            bad = f"{col} is not null and {self.ref_column} is null"
        else:
            raise RuleConfigError(f"{self.name}: unknown kind {self.kind!r}")
        return f"({self.where}) and ({bad})" if self.where else bad


def _sql_literal(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _typed(values: tuple[str, ...], base_type: str) -> tuple:
    return tuple(int(v) for v in values) if base_type in _INT_TYPES else values


@lru_cache(maxsize=1)
def catalogue() -> dict:
    doc = yaml.safe_load(CATALOGUE_PATH.read_text())
    for name, entry in doc["rules"].items():
        if entry["layer"] not in LAYERS[1:]:
            raise RuleConfigError(f"{CATALOGUE_PATH}: {name}: layer must be silver or gold, got {entry['layer']!r}")
        if entry["check"]["kind"] not in KINDS:
            raise RuleConfigError(f"{CATALOGUE_PATH}: {name}: kind {entry['check']['kind']!r} is not one of {KINDS}")
    return doc


def _from_rule(layer: str, table: str, source: str, rule: Rule, kind: str, columns, **extra) -> Check:
    if rule.action == "quarantine" and layer != "bronze":
        raise RuleConfigError(
            f"{source}: rule {rule.rule} on {table} quarantines, but only bronze rows can be "
            f"held back (it is checked in {layer}); make it stop or record"
        )
    return Check(
        layer=layer,
        table=table,
        source=source,
        rule=rule.rule,
        dimension=rule.dimension,
        severity=rule.severity,
        threshold=float(rule.threshold),
        action=rule.action,
        kind=kind,
        columns=tuple(columns),
        **extra,
    )


def _bronze_checks(contract: Contract) -> list[Check]:
    t, src = contract.qualified_name, contract.source
    checks = [
        _from_rule("bronze", t, src, Rule("unique_key", "uniqueness", "critical"), "unique", contract.primary_key)
    ]
    placed = catalogue()["rules"]
    for col in contract.columns:
        explicit = {r.rule: r for r in col.rules}
        if not col.nullable:
            checks.append(
                _from_rule("bronze", t, src, Rule("required", "completeness", "critical"), "not_null", [col.name])
            )
        if col.allowed:
            checks.append(
                _from_rule(
                    "bronze",
                    t,
                    src,
                    Rule("allowed_values", "validity", "warning"),
                    "in_set",
                    [col.name],
                    values=_typed(col.allowed, col.base_type),
                )
            )
        if col.pattern:
            rule = explicit.pop("pattern", Rule("pattern", "validity", "warning"))
            checks.append(_from_rule("bronze", t, src, rule, "regex", [col.name], pattern=col.pattern))
        for rule in explicit.values():
            if rule.rule == "not_null":
                checks.append(_from_rule("bronze", t, src, rule, "not_null", [col.name]))
            elif rule.rule not in placed:
                raise RuleConfigError(
                    f"{contract.path}: rule {rule.rule!r} on {col.name} is neither a bronze rule "
                    f"(not_null, pattern) nor placed in {CATALOGUE_PATH.name}"
                )
    return checks


def _placed_checks(layer: str) -> list[Check]:
    checks = []
    placed = catalogue()["rules"]
    for contract in load_contracts():
        for col in contract.columns:
            for rule in col.rules:
                entry = placed.get(rule.rule)
                if not entry or entry["layer"] != layer:
                    continue
                model = entry["tables"].get(contract.qualified_name)
                if model is None:
                    raise RuleConfigError(f"{CATALOGUE_PATH}: {rule.rule} has no table for {contract.qualified_name}")
                spec = entry["check"]
                checks.append(
                    _from_rule(
                        layer,
                        model,
                        contract.source,
                        rule,
                        spec["kind"],
                        spec.get("columns") or [spec["column"]],
                        where=spec.get("where"),
                        ref=spec.get("ref"),
                    )
                )
    for model, spec in (catalogue()["model_keys"].get(layer) or {}).items():
        for col in spec["key"]:
            checks.append(
                _from_rule(
                    layer, model, spec["source"], Rule("required", "completeness", "critical"), "not_null", [col]
                )
            )
        checks.append(
            _from_rule(
                layer, model, spec["source"], Rule("unique_key", "uniqueness", "critical"), "unique", spec["key"]
            )
        )
    return checks


def checks_for(layer: str) -> list[Check]:
    """Every check of a layer, in a stable order (by table, then as declared)."""
    if layer not in LAYERS:
        raise RuleConfigError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    if layer == "bronze":
        checks = [c for contract in load_contracts() for c in _bronze_checks(contract)]
    else:
        checks = _placed_checks(layer)
    names = [c.name for c in checks]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuleConfigError(f"{layer}: checks declared twice: {', '.join(sorted(dupes))}")
    return sorted(checks, key=lambda c: c.table)


def tables_of(checks: list[Check]) -> dict[str, list[Check]]:
    out: dict[str, list[Check]] = {}
    for c in checks:
        out.setdefault(c.table, []).append(c)
    return out
