"""benchmarks/soak.py judges a soak by issue 24's point 7; each verdict can fail."""

from __future__ import annotations

import importlib.util
import sys

from core.settings import REPO_DIR

sys.path.insert(0, str(REPO_DIR / "benchmarks"))  # soak imports its sibling bench_freshness
_spec = importlib.util.spec_from_file_location("soak", REPO_DIR / "benchmarks" / "soak.py")
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)

DURATION = 1800.0
GOOD_WINDOWS = [{"p95_s": 60.0}] * 6
STEADY_LAG = [(t, 500) for t in range(0, 1800, 30)]
GOOD = {"failed": [], "lost": 0, "duplicated": 0, "missed": 0}


def _judge(table=GOOD_WINDOWS, growth=0.02, lag=STEADY_LAG, **kw) -> dict[str, bool]:
    return soak.judge(table, growth, lag, DURATION, **{**GOOD, **kw})


def test_a_good_soak_passes_every_verdict():
    assert all(_judge().values())


def test_each_fault_fails_its_own_verdict_only():
    growing_lag = [(t, 100 + t) for t in range(0, 1800, 30)]
    cases = {
        "no failed run": _judge(failed=["lakehouse_refresh run-1"]),
        "cdc lag bounded": _judge(lag=growing_lag),
        "freshness p95 <= 90 s in every window": _judge(table=[*GOOD_WINDOWS[:5], {"p95_s": 91.0}]),
        "memory growth from minute 5 < 10 %": _judge(growth=0.12),
        "reconciliation exact": _judge(duplicated=1),
        "every sample seen": _judge(missed=1),
    }
    for name, verdicts in cases.items():
        assert {k for k, ok in verdicts.items() if not ok} == {name}, name


def test_missing_readings_are_not_a_pass():
    assert not _judge(table=[{"p95_s": None}])["freshness p95 <= 90 s in every window"]
    assert not _judge(growth=None)["memory growth from minute 5 < 10 %"]
    assert not _judge(lag=[])["cdc lag bounded"]


def test_memory_growth_is_measured_from_minute_five():
    memory = [(0, 9000), (300, 7000), (900, 7200), (1790, 7350)]
    assert round(soak.memory_growth(memory), 3) == 0.05
    assert soak.memory_growth([(0, 7000)]) is None
