"""The generated population behaves as the seed describes it (REQUIREMENTS §3.1-3.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.generator import app_events, network
from simulator.generator.cli import build_tables
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest

CFG = GeneratorConfig(scale=0.01, seed=21, days=14)


@pytest.fixture(scope="module")
def world():
    m = Manifest(CFG.seed, CFG.scale)
    tables, people, cells = build_tables(CFG, m)
    return tables, people, cells


def test_young_users_buy_5g_data_and_video_families_broadband_and_iptv(world):
    tables, people, _ = world
    seg = dict(zip(people.phone.tolist(), people.segment.tolist()))
    category = {p["product_id"]: p["category"] for p in tables["bss.products"].to_pylist()}
    orders = tables["bss.orders"].select(["phone", "product_id"]).to_pylist()
    share = {}
    for s in ("young", "family", "senior"):
        mine = [category[o["product_id"]] for o in orders if seg.get(o["phone"]) == s]
        share[s] = {c: mine.count(c) / len(mine) for c in set(mine)}
    young_video = share["young"]["data_pack"] + share["young"]["video_membership"] + share["young"]["mobile_5g"]
    assert young_video > 0.7
    assert share["family"]["broadband"] + share["family"]["iptv"] > 2 * (
        share["young"]["broadband"] + share["young"]["iptv"]
    )
    assert share["senior"]["mobile_4g"] > share["young"]["mobile_4g"] * 3


def test_every_active_day_starts_with_a_login_and_the_young_watch_video(world):
    _, people, _ = world
    ev = app_events.events(CFG, people)
    logins = ev["event_type"] == "login"
    assert logins.sum() == len(set(zip(ev["user_phone"].tolist(), ev["day"].tolist())))
    seg = dict(zip(people.phone.tolist(), people.segment.tolist()))
    video = dict.fromkeys(("young", "senior"), 0)
    total = dict.fromkeys(("young", "senior"), 0)
    for phone, kind in zip(ev["user_phone"].tolist(), ev["event_type"].tolist()):
        s = seg[phone]
        if s in video:
            total[s] += 1
            video[s] += kind == "video_play"
    assert video["young"] / total["young"] > 2 * video["senior"] / total["senior"]


def test_orders_take_minutes_to_over_a_day_to_activate(world):
    tables, _, _ = world
    o = tables["bss.orders"].to_pandas()
    done = o.dropna(subset=["activated_at"])
    minutes = (done["activated_at"] - done["created_at"]).dt.total_seconds() / 60
    assert minutes.min() < 10 and minutes.max() > 24 * 60
    assert 0.1 < (minutes > 120).mean() < 0.5  # the 2-hour target is missed often enough to matter
    status_share = o["status"].isin(["ACTIVE", "installed", "enabled"]).mean()
    assert 0.7 < status_share < 0.9


def test_some_complaints_miss_each_stage_sla(world):
    tables, _, _ = world
    t = tables["crm.service_tickets"].to_pandas()
    accept = (t["accepted_at"] - t["opened_at"]).dt.total_seconds() / 60
    check = (t["network_checked_at"] - t["accepted_at"]).dt.total_seconds() / 60
    answer = (t["answered_at"] - t["opened_at"]).dt.total_seconds() / 60
    for late_share in ((accept > 10).mean(), (check.dropna() > 30).mean(), (answer.dropna() > 60).mean()):
        assert 0.02 < late_share < 0.5
    assert t.loc[t["category"] != "network", "network_checked_at"].isna().all()


@pytest.fixture(scope="module")
def churn_world():
    """Two months of a larger population: enough terminations to compare with everyone else."""
    cfg = GeneratorConfig(scale=0.03, seed=5, days=60)
    m = Manifest(cfg.seed, cfg.scale)
    tables, people, _ = build_tables(cfg, m)
    return cfg, m, tables, people, app_events.events(cfg, people)


def test_terminations_are_the_plans_monthly_churn_and_close_the_account(churn_world):
    cfg, m, tables, people, _ = churn_world
    subs = tables["bss.subscribers"].to_pandas().set_index("phone")
    truth = pd.DataFrame(m.truth["terminations"])
    monthly = len(truth) / len(subs) / (cfg.days / 30)
    assert 0.01 <= monthly <= 0.03, monthly
    gone = subs.loc[truth["phone"]]
    assert (gone["status"] == "closed").all()
    assert (gone["terminated_at"].to_numpy() == pd.to_datetime(truth["terminated_at"]).to_numpy()).all()
    window = pd.Timestamp(cfg.start)
    in_window = subs["terminated_at"] >= window
    assert in_window.sum() == len(truth)  # the others closed before the window, not churn in it
    assert subs["terminated_at"].isna().eq(subs["status"] != "closed").all()


def test_churners_fade_complain_then_go_silent_and_the_3_day_rule_is_weak(churn_world):
    cfg, m, tables, people, ev = churn_world
    day_of = people.churn_day
    logins = pd.DataFrame({"phone": ev["user_phone"], "day": ev["day"]})
    logins = logins[ev["event_type"] == "login"]
    idx = {p: i for i, p in enumerate(people.phone.tolist())}
    logins["user"] = logins["phone"].map(idx)
    # nobody uses the app once the account is closed
    assert not (logins["day"].values >= np.where(day_of >= 0, day_of, cfg.days)[logins["user"].values]).any()
    fading = np.flatnonzero((day_of >= 21) & (people.churn.decline_days > 0))
    stayers = np.flatnonzero((day_of < 0) & ~people.churn.closed_before)
    per_day = (
        logins.groupby(["user", "day"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=range(len(day_of)), columns=range(cfg.days), fill_value=0)
        .to_numpy()
    )
    last_2w = np.array([per_day[u, day_of[u] - 14 : day_of[u]].mean() for u in fading])
    weeks_before = np.array([per_day[u, day_of[u] - 21 - 7 : day_of[u] - 21].mean() for u in fading if day_of[u] >= 28])
    assert last_2w.mean() < 0.7 * per_day[stayers].mean()
    assert last_2w.mean() < 0.7 * weeks_before.mean()
    tickets = tables["crm.service_tickets"].to_pandas()
    per_user = tickets.groupby(tickets["customer_id"] - 1).size().reindex(range(len(day_of)), fill_value=0)
    assert per_user.iloc[fading].mean() > 1.5 * per_user.iloc[stayers].mean()
    # the plan's rule (no login for 3 days) on day 30: most of whom it flags stay, and it flags
    # leavers at under 3.5x their share of the open accounts (a model must be able to double it
    # in its top decile, which can hold at most 10x)
    flagged = (per_day[:, 27:30].sum(axis=1) == 0) & (per_day[:, :27].sum(axis=1) > 0)
    leave_soon = (day_of >= 30) & (day_of < 44)
    still_open = ((day_of < 0) | (day_of >= 30)) & ~people.churn.closed_before
    assert leave_soon[flagged].mean() < 0.2
    assert leave_soon[flagged].mean() < 3.5 * leave_soon[still_open].mean()


def test_cells_warn_for_1_to_6_hours_before_a_fault_and_some_warn_for_nothing():
    import pandas as pd

    cfg = GeneratorConfig(scale=0.1, seed=3, days=14)
    cells = network.cells(cfg)
    truth: dict = {}
    kpis = pd.concat([network.cell_kpis_day(cfg, cells, d, truth).to_pandas() for d in range(cfg.days)])
    kpis = kpis.set_index(["cell_id", "period_start"]).sort_index()
    faults, false_signs = pd.DataFrame(truth["cell_faults"]), pd.DataFrame(truth["false_precursors"])
    assert len(faults) > 20 and 0 < len(false_signs) < len(faults)
    outage = kpis["drop_rate_pct"] >= 10
    for f in faults.itertuples():
        at = pd.Timestamp(f.at)
        row = kpis.loc[(f.cell_id, at)]
        assert row["alarm_count"] >= 3 and row["drop_rate_pct"] >= 15
        hour_before = kpis.loc[(f.cell_id, slice(at - pd.Timedelta("60min"), at - pd.Timedelta("15min"))), :]
        assert hour_before["load_pct"].iloc[-1] > 85 and not (hour_before["drop_rate_pct"] >= 10).any()
    for f in false_signs.itertuples():
        at = pd.Timestamp(f.at)
        after = outage.loc[(f.cell_id, slice(at, at + pd.Timedelta("6h")))]
        near_fault = ((faults["cell_id"] == f.cell_id) & (pd.to_datetime(faults["at"]) - at).abs().lt("7h")).any()
        assert near_fault or not after.any()
    # outages are the planted faults' periods and nothing else
    starts = outage & ~outage.groupby(level=0).shift(1, fill_value=False)
    assert starts.sum() == len(faults)
