"""The gold layer's answers computed independently from the generated source tables, with pandas
and the operator's rules as written in REQUIREMENTS (thresholds from dbt_project.yml's vars),
not with the models' SQL. The known-answer tests compare these with what dbt built."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from core import pii
from core.dbt_cli import DBT_PROJECT_DIR

VARS = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def user_id(phone) -> str | None:
    """The unified user ID as gold holds it: the token of the E.164 phone (core/pii.py)."""
    number = pii.e164(phone) if isinstance(phone, str) else None
    return pii.token(number) if number else None


def _df(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(timestamp_as_object=False)


@dataclass
class Expected:
    users: pd.DataFrame  # one row per user_key with the 360 attributes the segments use
    as_of: date
    segment_sizes: dict[str, int]
    campaign_lists: dict[str, set[tuple[str, str]]]  # list -> (user key, offer), without the model's list
    kpis: dict[tuple[str, str], Kpi]  # the KPI board as of as_of, by (period, kpi)
    kpi_board: Callable[..., dict[tuple[str, str], Kpi]]  # (as_of, five_g_baseline=None): the board of another day
    order_status_counts: dict[str, int]
    amount_mismatches: int
    invalid_order_numbers: int
    gender_inconsistent: int
    cell_hours: int
    fault_risk_hours: int
    app_events: int


def compute(data: dict[str, pa.Table]) -> Expected:
    """Every expected gold figure, one mart at a time, from the generated source tables."""
    products = _df(data["bss.products"]).set_index("product_id")
    app = fct_app_activity_daily(_df(data["app.events"]))
    subs = _df(data["bss.subscribers"])
    users, gender_inconsistent = dim_user(_df(data["crm.customers"]), subs, _df(data["bss.monthly_usage"]), app)
    orders = fct_orders(_df(data["bss.orders"]), products)
    hourly, fault = fct_cell_kpi_hourly(_df(data["network.cell_kpis"]))
    members = segment_members(users, orders.orders)
    offers = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "campaign_offers.csv", dtype=str)
    board = partial(operations_kpis, orders.orders, _df(data["crm.service_tickets"]), subs, users, products, app)
    return Expected(
        users=users,
        as_of=app.as_of,
        segment_sizes=segment_sizes(members),
        campaign_lists=campaign_lists(users, orders.orders, members, offers),
        kpis=board(app.as_of),
        kpi_board=board,
        order_status_counts=orders.status_counts,
        amount_mismatches=orders.amount_mismatches,
        invalid_order_numbers=orders.invalid_order_numbers,
        gender_inconsistent=gender_inconsistent,
        cell_hours=len(hourly),
        fault_risk_hours=int(fault.sum()),
        app_events=len(app.events),
    )


# --- app activity ------------------------------------------------------------------------------


@dataclass
class AppActivity:
    events: pd.DataFrame  # every event, with user_key ("unidentified" if the phone is not usable) and local day
    as_of: date  # the newest local day with events
    logins: pd.DataFrame  # identified users' logins
    window: pd.DataFrame  # identified users' events of the last 30 days


def fct_app_activity_daily(events: pd.DataFrame) -> AppActivity:
    """App activity per user and local day (China Standard Time)."""
    events["user_key"] = events.user_phone.map(user_id).fillna("unidentified")
    local = pd.to_datetime(events.event_at, utc=True).dt.tz_convert("Asia/Shanghai")
    events["day"] = local.dt.date
    as_of = max(events.day)
    known = events[events.user_key != "unidentified"]
    logins = known[known.event_type == "login"]
    window = known[known.day > as_of - timedelta(days=30)]
    return AppActivity(events, as_of, logins, window)


# --- dim_user ----------------------------------------------------------------------------------


def dim_user(
    customers: pd.DataFrame, subs: pd.DataFrame, usage: pd.DataFrame, app: AppActivity
) -> tuple[pd.DataFrame, int]:
    """One row per user_key with the 360 attributes the segments use; and how many users' CRM
    gender disagrees with their BSS gender code."""
    users, gender_inconsistent = _unified_users(customers, subs)
    users = _with_value_tier(users, usage)
    users = _with_app_attributes(users, app)
    users["age"] = users.birth_date.map(lambda b: _age(b, app.as_of))
    return users, gender_inconsistent


def _unified_users(customers: pd.DataFrame, subs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The E.164 phone (its token) joins CRM and BSS; unusable phones keep a record of their own."""
    customers["user_key"] = [user_id(p) or f"crm-{cid}" for p, cid in zip(customers.phone, customers.customer_id)]
    subs["user_key"] = [user_id(p) or f"bss-{sid}" for p, sid in zip(subs.phone, subs.subscriber_id)]
    assert customers.user_key.is_unique and subs.user_key.is_unique, "the generator gives one record per number"
    users = customers.set_index("user_key")[["customer_id", "gender", "birth_date"]].join(
        subs.set_index("user_key")[["gender", "plan_product_id", "status"]].rename(columns={"gender": "bss_code"}),
        how="outer",
    )
    users["bss_gender"] = users.bss_code.map({"0": "U", "1": "M", "2": "F"})
    gender_inconsistent = int(
        ((users.gender.notna()) & (users.bss_gender.notna()) & (users.gender != users.bss_gender)).sum()
    )
    return users, gender_inconsistent


def _with_value_tier(users: pd.DataFrame, usage: pd.DataFrame) -> pd.DataFrame:
    """Average monthly bill and data per user, and the value tier the bill puts them in."""
    usage["user_id"] = usage.phone.map(user_id)
    per_user = usage.groupby("user_id").agg(
        bill=("bill_amount", lambda s: float(np.mean([float(x) for x in s]))),
        data_gb=("data_gb", lambda s: float(np.mean([float(x) for x in s]))),
    )
    users = users.join(per_user)
    tier = np.select(
        [
            users.bill >= VARS["value_tier_high_min_monthly_bill"],
            users.bill >= VARS["value_tier_medium_min_monthly_bill"],
            users.bill.notna(),
        ],
        ["high", "medium", "low"],
        None,
    )
    users["value_tier"] = tier
    return users


def _with_app_attributes(users: pd.DataFrame, app: AppActivity) -> pd.DataFrame:
    """Last login, video plays in the last 30 days, and whether the user is at risk of churning."""
    last_login = app.logins.groupby("user_key").day.max()
    video = app.window[app.window.event_type == "video_play"].groupby("user_key").size()
    users["last_login"] = last_login
    users["video_plays_30d"] = video.reindex(users.index).fillna(0).astype(int)
    at_risk_before = app.as_of - timedelta(days=VARS["at_risk_days_without_login"])
    users["at_risk"] = users.last_login.map(lambda d: d is not None and not pd.isna(d) and d <= at_risk_before)
    return users


def _age(birth, as_of: date) -> int | None:
    if pd.isna(birth):
        return None
    b = pd.Timestamp(birth).date()
    return as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day))


# --- fct_orders --------------------------------------------------------------------------------


@dataclass
class OrderFacts:
    orders: pd.DataFrame  # with user_id, the unified order_status and the product's category
    status_counts: dict[str, int]
    amount_mismatches: int  # orders whose amount is not the product's price when they were created
    invalid_order_numbers: int


def fct_orders(orders: pd.DataFrame, products: pd.DataFrame) -> OrderFacts:
    orders["user_id"] = orders.phone.map(user_id)
    status = dict(_status_map().items())
    orders["order_status"] = orders.status.map(status)
    orders["category"] = orders.product_id.map(products.category)
    return OrderFacts(
        orders=orders,
        status_counts=orders.order_status.value_counts().to_dict(),
        amount_mismatches=len(amount_mismatches(orders, products.reset_index())),
        invalid_order_numbers=int((~orders.apply(_order_number_ok, axis=1)).sum()),
    )


def amount_mismatches(orders: pd.DataFrame, product_versions: pd.DataFrame) -> set[str]:
    """The orders whose amount is not their product's list price when they were created. Each
    version of a product (a row of ``product_versions``) holds from its updated_at, the first
    from the product's creation, until the next version's."""
    versions = product_versions.sort_values("updated_at")
    first = ~versions.product_id.duplicated()
    versions = versions.assign(
        valid_from=versions.updated_at.where(~first, versions[["created_at", "updated_at"]].min(axis=1))
    )
    priced = pd.merge_asof(
        orders.sort_values("created_at"),
        versions.sort_values("valid_from")[["product_id", "valid_from", "price"]],
        left_on="created_at",
        right_on="valid_from",
        by="product_id",
    )
    wrong = priced.price.notna() & (priced.amount != priced.price)
    return set(priced.order_id[wrong])


# --- segments ----------------------------------------------------------------------------------


def segment_members(users: pd.DataFrame, orders: pd.DataFrame) -> dict[str, pd.Index]:
    """Each segment's user keys, as fct_user_segments has them (segments with no users left out)."""
    # Products each user has activated, by category.
    activated = orders[orders.order_status == "activated"]
    owned = activated.groupby("user_id").category.agg(set)
    has = users.index.to_series().map(lambda k: owned.get(k, set()))

    reachable = users.status.fillna("") != "closed"
    heavy = users.data_gb > VARS["heavy_data_min_monthly_gb"]
    seg = {
        "value_high": users.value_tier == "high",
        "value_medium": users.value_tier == "medium",
        "value_low": users.value_tier == "low",
        "at_risk": users.at_risk.astype(bool),
        "audience_25_30_heavy_data_video": (
            reachable
            & users.age.between(VARS["audience_min_age"], VARS["audience_max_age"])
            & heavy
            & (users.video_plays_30d >= VARS["video_watcher_min_plays_30d"])
        ),
        "cross_sell_data_pack_video": reachable & heavy & ~has.map(lambda s: {"data_pack", "video_membership"} <= s),
        "cross_sell_smart_home": reachable & has.map(lambda s: "broadband" in s and "smart_home" not in s),
    }
    return {s: users.index[m] for s, m in seg.items() if m.any()}


def segment_sizes(members: dict[str, pd.Index]) -> dict[str, int]:
    return {s: len(keys) for s, keys in members.items()}


def campaign_lists(
    users: pd.DataFrame, orders: pd.DataFrame, members: dict[str, pd.Index], offers: pd.DataFrame
) -> dict[str, set[tuple[str, str]]]:
    """Each marketing list's (user key, offer) pairs: the segment's identified, open users with
    the list's offer; the data/video cross-sell list offers each of the two a user lacks."""
    activated = orders[orders.order_status == "activated"]
    owned = activated.groupby("user_id").category.agg(set)
    identified = ~users.index.str.startswith(("crm-", "bss-"))  # a usable phone: a user ID
    reachable = users.index[(users.status.fillna("") != "closed") & identified]
    lists: dict[str, set[tuple[str, str]]] = {}
    for name, rows in offers.groupby("list_name"):
        for key in members.get(name, pd.Index([])).intersection(reachable):
            for need, offer in zip(rows.needs, rows.offer, strict=True):
                if pd.isna(need) or need not in owned.get(key, set()):
                    lists.setdefault(name, set()).add((key, offer))
    return lists


# --- operations KPI board ----------------------------------------------------------------------


class Kpi(NamedTuple):
    value: float | None
    target: float | None
    meets_target: bool | None


def _minutes(a: pd.Series, b: pd.Series) -> pd.Series:
    return (b - a).dt.total_seconds() / 60.0


def _utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True)


def _at(day: date) -> pd.Timestamp:
    """A day's start, UTC (the board's periods are UTC days)."""
    return pd.Timestamp(day, tz="UTC")


def operations_kpis(
    orders: pd.DataFrame,
    tickets: pd.DataFrame,
    subs: pd.DataFrame,
    users: pd.DataFrame,
    products: pd.DataFrame,
    app: AppActivity,
    as_of: date,
    five_g_baseline: float | None = None,
) -> dict[tuple[str, str], Kpi]:
    """The operations KPI board as of a day, by (period, kpi), period 'day' (that day) or 'month'
    (its month to date): each value with its target and whether it is met, the targets as
    dbt_project.yml's kpi_targets state them. ``five_g_baseline``: the 5G share the uplift is on
    (default: the day's own)."""
    end = _at(as_of + timedelta(days=1))
    periods = {"day": as_of, "month": as_of.replace(day=1)}
    values = {p: _period_values(orders, tickets, subs, products, _at(start), end) for p, start in periods.items()}
    stocks = {  # as of the day, whatever the period
        "app_login_weekly_retention_rate": _weekly_retention(app, as_of),
        "at_risk_user_share": _at_risk_share(users, app, as_of),
    }
    baseline = values["day"]["five_g_user_share"] if five_g_baseline is None else five_g_baseline
    board = {}
    for period, start in periods.items():
        days_in_month = calendar.monthrange(start.year, start.month)[1]
        for kpi, value in {**values[period], **stocks}.items():
            rule = VARS["kpi_targets"].get(kpi)
            target = None
            if kpi == "five_g_user_share":
                target = baseline * (1 + rule["uplift"])
            elif kpi == "subscriber_retention_rate":
                target = rule["target"] ** (((as_of - start).days + 1) / days_in_month)
            elif rule:
                target = float(rule["target"])
            value = None if value is None or np.isnan(value) else float(value)
            meets = None
            if rule and value is not None and target is not None:
                meets = value >= target if rule["direction"] == "at_least" else value <= target
            board[(period, kpi)] = Kpi(value, target, meets)
    return board


def _period_values(
    orders: pd.DataFrame,
    tickets: pd.DataFrame,
    subs: pd.DataFrame,
    products: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, float | None]:
    """The KPIs of a period [start, end): orders activated in it, tickets opened in it, accounts
    open at its start (retention) and at its end (5G share)."""
    activated = _utc(orders.activated_at)
    act = orders[(activated >= start) & (activated < end)]
    to_act = _minutes(_utc(act.created_at), _utc(act.activated_at))
    opened = _utc(tickets.opened_at)
    t = tickets[(opened >= start) & (opened < end)]
    stage = {
        s: _minutes(_utc(t.opened_at), _utc(t[f"{s}_at"])).dropna()
        for s in ("accepted", "network_checked", "answered", "resolved")
    }
    sla = {
        "accepted": "sla_accept_minutes",
        "network_checked": "sla_network_check_minutes",
        "answered": "sla_answer_minutes",
    }
    within = {s: (stage[s] <= VARS[v]).mean() if len(stage[s]) else None for s, v in sla.items()}

    def open_at(ts: pd.Timestamp) -> pd.Series:
        terminated = _utc(subs.terminated_at)
        return (_utc(subs.activated_at) < ts) & (terminated.isna() | (terminated >= ts))

    at_start, at_end = open_at(start), open_at(end)
    is_5g = subs.plan_product_id.map(products.category).eq("mobile_5g")
    return {
        "subscriber_retention_rate": at_end[at_start].mean(),
        "order_to_activation_p50_minutes": _percentile(to_act, 50),
        "order_to_activation_p95_minutes": _percentile(to_act, 95),
        "activated_within_2h_share": (to_act <= VARS["activation_target_minutes"]).mean() if len(to_act) else None,
        "ticket_accept_p50_minutes": _percentile(stage["accepted"], 50),
        "ticket_network_check_p50_minutes": _percentile(stage["network_checked"], 50),
        "ticket_answer_p50_minutes": _percentile(stage["answered"], 50),
        "ticket_resolve_p50_minutes": _percentile(stage["resolved"], 50),
        "ticket_accept_within_sla_share": within["accepted"],
        "ticket_network_check_within_sla_share": within["network_checked"],
        "ticket_answer_within_sla_share": within["answered"],
        "avg_satisfaction": t.satisfaction_score.dropna().astype(float).mean(),
        "five_g_user_share": is_5g[at_end].mean(),
    }


def _percentile(s: pd.Series, q: float) -> float | None:
    return float(np.percentile(s, q)) if len(s) else None


def _weekly_retention(app: AppActivity, as_of: date) -> float:
    """Of the users who logged in 7-13 days before as_of, the share who logged in in the last 7 days."""
    login_days = app.logins[app.logins.day <= as_of].groupby("user_key").day.agg(set)
    prev = login_days[login_days.map(lambda s: any(as_of - timedelta(13) <= d <= as_of - timedelta(7) for d in s))]
    kept = prev.map(lambda s: any(as_of - timedelta(6) <= d <= as_of for d in s))
    return kept.mean()


def _at_risk_share(users: pd.DataFrame, app: AppActivity, as_of: date) -> float:
    """Of the users who have logged in by as_of, the share with no login on each of the last
    at_risk_days_without_login days."""
    last = app.logins[app.logins.day <= as_of].groupby("user_key").day.max().reindex(users.index).dropna()
    return (last <= as_of - timedelta(days=VARS["at_risk_days_without_login"])).mean()


# --- fct_cell_kpi_hourly -----------------------------------------------------------------------


def fct_cell_kpi_hourly(kpis: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Cell KPIs per local hour, and whether each cell-hour is at fault risk."""
    kpis["hour"] = pd.to_datetime(kpis.period_start, utc=True).dt.tz_convert("Asia/Shanghai").dt.floor("h")
    hourly = kpis.groupby(["cell_id", "hour"]).agg(load=("load_pct", "mean"), util=("bandwidth_util_pct", "max"))
    fault = (hourly.load >= VARS["fault_risk_min_load_pct"]) | (hourly.util >= VARS["fault_risk_min_util_pct"])
    return hourly, fault


# --- shared rules -------------------------------------------------------------------------------


def _status_map() -> dict[str, str]:
    from schemas.contracts import get_contract

    return get_contract("bss.orders").mappings["status"]


def _order_number_ok(row) -> bool:
    oid = row.order_id
    return (
        bool(re.fullmatch(r"(MOB|BRD|IPT|VAS)\d{14}", oid))
        and oid[:3] == row.business_type
        and oid[3:11] == pd.Timestamp(row.created_at).strftime("%Y%m%d")
        and int(oid[11:]) > 0
    )
