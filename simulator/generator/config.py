"""Generator settings: scale, seed, time window and defect rates, checked on construction."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date


class GeneratorError(ValueError):
    """Bad generator arguments, with what is wrong and what is allowed."""


@dataclass(frozen=True)
class DefectRates:
    """Share of rows (or, for files, a count) that carry each planted defect."""

    null_phone: float = 0.01  # CRM customers with no phone
    malformed_phone: float = 0.01  # CRM customers whose phone cannot be a mobile number
    phone_format_variants: float = 0.15  # CRM customers / app events with +86, spaces or dashes
    amount_mismatch: float = 0.02  # orders whose amount is not the product's price
    gender_mismatch: float = 0.03  # BSS subscribers whose gender disagrees with the CRM
    orphan_orders: float = 0.01  # orders for a phone no system knows
    duplicate_events: float = 0.01  # app events written twice
    late_events: float = 0.02  # app events landing in a later day's file
    out_of_order_events: float = 0.02  # app events swapped with their neighbour in a file
    malformed_json_lines: float = 0.001  # app log lines that are not JSON
    csv_extra_column_files: int = 1  # KPI files exported with an unknown extra column
    truncated_gzip_files: int = 1  # app log files cut off mid-stream
    empty_files: int = 1  # app log files with no lines

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_files"):
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 5:
                    raise GeneratorError(f"defect {f.name} is a number of files from 0 to 5, got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 0.5:
                raise GeneratorError(f"defect rate {f.name} must be between 0 and 0.5, got {v!r}")

    @classmethod
    def none(cls) -> DefectRates:
        return cls(**{f.name: 0 for f in fields(cls)})


@dataclass(frozen=True)
class GeneratorConfig:
    scale: float = 0.01
    seed: int = 42
    start: date = date(2026, 10, 1)
    days: int = 30
    defects: DefectRates = field(default_factory=DefectRates)
    monthly_churn: float = 0.02  # share of subscribers who terminate per 30 days (the plan's 1-3 %)

    # Scale factor 1 (REQUIREMENTS-sized): ~100k customers, ~1M orders, 30 days of
    # 15-minute KPIs for ~2,000 cells, ~10M app events.
    CUSTOMERS_PER_SF = 100_000
    CELLS_PER_SF = 2_000
    ORDERS_PER_CUSTOMER = 10.0
    EVENTS_PER_CUSTOMER = 100.0

    def __post_init__(self):
        if not isinstance(self.scale, (int, float)) or isinstance(self.scale, bool) or not 0 < self.scale <= 10:
            raise GeneratorError(f"scale must be > 0 and <= 10, got {self.scale!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise GeneratorError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.days, int) or not 3 <= self.days <= 92:
            raise GeneratorError(f"days must be between 3 and 92, got {self.days!r}")
        if isinstance(self.monthly_churn, bool) or not 0 <= self.monthly_churn <= 0.2:
            raise GeneratorError(f"monthly_churn must be between 0 and 0.2, got {self.monthly_churn!r}")
        if self.n_customers < 20:
            raise GeneratorError(
                f"scale {self.scale} gives {self.n_customers} customers; the smallest is 20 (scale >= 0.0002)"
            )

    @property
    def n_customers(self) -> int:
        return int(round(self.CUSTOMERS_PER_SF * self.scale))

    @property
    def n_cells(self) -> int:
        return max(6, int(round(self.CELLS_PER_SF * self.scale)))
