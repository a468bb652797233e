"""Vectorised helpers shared by the generators: seeded streams, ids, phones, timestamps."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from simulator.generator.catalogue import MOBILE_PREFIXES

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
US_PER_MIN = 60_000_000
US_PER_DAY = 86_400_000_000


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per domain, so one domain's changes don't shift another's."""
    return np.random.default_rng([seed, sum(ord(c) * 31**i for i, c in enumerate(name)) % 2**32])


def pick_rows(rng: np.random.Generator, n: int, keep_out: np.ndarray, rate: float) -> np.ndarray:
    """Indexes of round(rate*n) rows not in keep_out (a boolean mask), in ascending order."""
    candidates = np.flatnonzero(~keep_out)
    k = min(len(candidates), int(round(rate * n)))
    return np.sort(rng.choice(candidates, size=k, replace=False)) if k else np.array([], dtype=np.int64)


def hex_ids(rng: np.random.Generator, n: int, length: int = 32) -> np.ndarray:
    """n random lowercase hex strings, built without a Python loop."""
    nibbles = rng.integers(0, 16, size=(n, length), dtype=np.uint8)
    return _HEX[nibbles].view(f"S{length}").ravel().astype(str)


def unique_phones(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """n distinct 11-digit Chinese mobile numbers (as strings), none of them in ``exclude``."""
    prefixes = np.array(MOBILE_PREFIXES, dtype=np.int64)
    taken = set(exclude.tolist()) if exclude is not None else set()
    out: list[str] = []
    while len(out) < n:
        k = int((n - len(out)) * 1.2) + 16
        nums = prefixes[rng.integers(0, len(prefixes), k)] * 10**8 + rng.integers(0, 10**8, k)
        for p in np.unique(nums).astype(str):
            if p not in taken:
                taken.add(p)
                out.append(p)
    picked = np.array(out[:n])
    return picked[rng.permutation(n)]


def phone_variants(rng: np.random.Generator, phones: np.ndarray) -> np.ndarray:
    """The same numbers as people type them: +86, 0086, spaces, dashes."""
    styles = rng.integers(0, 5, len(phones))
    out = []
    for p, s in zip(phones.tolist(), styles.tolist()):
        out.append(
            [
                f"+86 {p[:3]} {p[3:7]} {p[7:]}",
                f"{p[:3]}-{p[3:7]}-{p[7:]}",
                f"+86{p}",
                f"0086 {p}",
                f"86-{p}",
            ][s]
        )
    return np.array(out, dtype=object)


def malformed_phones(rng: np.random.Generator, phones: np.ndarray) -> np.ndarray:
    """Numbers that cannot be a mobile number: too short, too long, letters, a landline."""
    styles = rng.integers(0, 4, len(phones))
    out = []
    for p, s in zip(phones.tolist(), styles.tolist()):
        out.append([p[:-2], p + "9", p[:3] + "O" + p[4:], "010-" + p[-8:]][s])
    return np.array(out, dtype=object)


def epoch_us(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1_000_000


def to_datetime64(us: np.ndarray) -> np.ndarray:
    return us.astype("datetime64[us]")


def diurnal_offsets(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds into a (local) day, busier in the morning and evening than at night."""
    hour_weights = np.array(
        [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2.5, 4, 4.5, 4.5, 4.5, 5, 4.5, 4.2, 4.2, 4.5, 5, 5.5, 6, 6.5, 6, 4.5, 2.5]
    )
    hours = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    return hours * 3_600_000_000 + rng.integers(0, 3_600_000_000, n)
