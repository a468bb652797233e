"""The one way rows are picked for planted defects: disjoint within a table, drawn from the
table's random stream, and recorded in the manifest with their keys as they are picked."""

from __future__ import annotations

import numpy as np

from simulator.generator.common import pick_rows
from simulator.generator.manifest import Manifest


class DefectPlanter:
    """Picks rows of one table for planted defects, never the same row twice.

    ``keys`` holds each row's key (what the manifest records); ``plant`` picks round(rate * n)
    free rows, marks them taken and records them; ``pick`` does the same for a defect whose
    manifest entry is only known later (a line number in a file, say) and is recorded by the
    caller. Every pick is one draw from ``rng``, in call order, so the stream stays seeded.
    """

    def __init__(self, rng: np.random.Generator, m: Manifest, table: str, keys: np.ndarray, key_name: str):
        self.rng = rng
        self.m = m
        self.table = table
        self.keys = keys
        self.key_name = key_name
        self.taken = np.zeros(len(keys), dtype=bool)

    def pick(self, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        """Ascending indexes of round(rate * n) free rows (among ``eligible`` ones), now taken."""
        keep_out = self.taken if eligible is None else self.taken | ~eligible
        rows = pick_rows(self.rng, len(self.keys), keep_out, rate)
        self.taken[rows] = True
        return rows

    def plant(self, defect: str, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        """``pick`` the rows, and record their keys in the manifest as ``defect``."""
        rows = self.pick(rate, eligible)
        self.m.defect(defect, self.table, self.keys[rows], key_name=self.key_name)
        return rows

    def reserve(self, rows: np.ndarray) -> np.ndarray:
        """Mark rows chosen by the caller (not at random) as taken; returns them."""
        self.taken[rows] = True
        return rows

    def free(self, eligible: np.ndarray) -> np.ndarray:
        """Ascending indexes of the ``eligible`` rows no defect has taken yet."""
        return np.flatnonzero(eligible & ~self.taken)
