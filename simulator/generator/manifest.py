"""The ground truth of a generated data set: rows per entity, planted defects with their keys,
and the landed files. Written as JSON beside the landing zone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

KEYS_CAP = 250_000  # beyond this a defect's key list is left out of the manifest (counts stay)


@dataclass
class Manifest:
    seed: int
    scale: float
    rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    loads: dict[str, dict[str, int]] = field(default_factory=dict)  # this run's database sync, not ground truth
    # What the models must predict: who terminated when, which cell failed when (and which
    # cells only looked like failing).
    truth: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def defect(self, name: str, table: str, keys, key_name: str = "customer_id", **extra) -> None:
        """Record a planted defect; past KEYS_CAP keys only the count is kept."""
        keys = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
        entry = {"table": table, "key": key_name, "count": len(keys), **extra}
        if len(keys) <= KEYS_CAP:
            entry["keys"] = keys
        self.defects[name] = entry

    def to_json(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "scale": self.scale,
                "rows": self.rows,
                "defects": self.defects,
                "files": self.files,
                "truth": self.truth,
            },
            indent=1,
            sort_keys=True,
            ensure_ascii=False,
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())

    @staticmethod
    def read(path: Path) -> dict:
        return json.loads(path.read_text())
