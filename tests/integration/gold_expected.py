"""The gold layer's answers computed independently from the generated source tables, with pandas
and the operator's rules as written in REQUIREMENTS (thresholds from dbt_project.yml's vars),
not with the models' SQL. The known-answer tests compare these with what dbt built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

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
    kpis: dict[str, float]
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
    users, gender_inconsistent = dim_user(
        _df(data["crm.customers"]), _df(data["bss.subscribers"]), _df(data["bss.monthly_usage"]), app
    )
    orders = fct_orders(_df(data["bss.orders"]), products)
    hourly, fault = fct_cell_kpi_hourly(_df(data["network.cell_kpis"]))
    return Expected(
        users=users,
        as_of=app.as_of,
        segment_sizes=segment_sizes(users, orders.orders),
        kpis=operations_kpis(orders.orders, _df(data["crm.service_tickets"]), users, products, app),
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
    amount_mismatches: int  # orders whose amount is not the product's price
    invalid_order_numbers: int


def fct_orders(orders: pd.DataFrame, products: pd.DataFrame) -> OrderFacts:
    orders["user_id"] = orders.phone.map(user_id)
    status = dict(_status_map().items())
    orders["order_status"] = orders.status.map(status)
    orders["category"] = orders.product_id.map(products.category)
    return OrderFacts(
        orders=orders,
        status_counts=orders.order_status.value_counts().to_dict(),
        amount_mismatches=int((orders.amount != orders.product_id.map(products.price)).sum()),
        invalid_order_numbers=int((~orders.apply(_order_number_ok, axis=1)).sum()),
    )


# --- segments ----------------------------------------------------------------------------------


def segment_sizes(users: pd.DataFrame, orders: pd.DataFrame) -> dict[str, int]:
    """Users per segment (segments with no users left out), as the segment-sizes mart counts them."""
    # Products each user has activated, by category.
    activated = orders[orders.order_status == "activated"]
    owned = activated.groupby("user_id").category.agg(set)
    has = users.index.to_series().map(lambda k: owned.get(k, set()))

    reachable = users.status.fillna("") != "closed"
    heavy = users.data_gb > VARS["heavy_data_min_monthly_gb"]
    seg = {
        "value_high": int((users.value_tier == "high").sum()),
        "value_medium": int((users.value_tier == "medium").sum()),
        "value_low": int((users.value_tier == "low").sum()),
        "at_risk": int(users.at_risk.sum()),
        "audience_25_30_heavy_data_video": int(
            (
                reachable
                & users.age.between(VARS["audience_min_age"], VARS["audience_max_age"])
                & heavy
                & (users.video_plays_30d >= VARS["video_watcher_min_plays_30d"])
            ).sum()
        ),
        "cross_sell_data_pack_video": int(
            (reachable & heavy & ~has.map(lambda s: {"data_pack", "video_membership"} <= s)).sum()
        ),
        "cross_sell_smart_home": int((reachable & has.map(lambda s: "broadband" in s and "smart_home" not in s)).sum()),
    }
    return {s: n for s, n in seg.items() if n}


# --- operations KPI board ----------------------------------------------------------------------


def _minutes(a: pd.Series, b: pd.Series) -> pd.Series:
    return (b - a).dt.total_seconds() / 60.0


def operations_kpis(
    orders: pd.DataFrame, tickets: pd.DataFrame, users: pd.DataFrame, products: pd.DataFrame, app: AppActivity
) -> dict[str, float]:
    """The operations KPI board: retention, activation and ticket-stage times, SLA shares, satisfaction, 5G share."""
    act = orders[orders.activated_at.notna()]
    to_act = _minutes(act.created_at, act.activated_at)
    t_accept = _minutes(tickets.opened_at, tickets.accepted_at).dropna()
    t_check = _minutes(tickets.opened_at, tickets.network_checked_at).dropna()
    t_answer = _minutes(tickets.opened_at, tickets.answered_at).dropna()
    t_resolve = _minutes(tickets.opened_at, tickets.resolved_at).dropna()
    active_subs = users[users.status == "active"]
    k = {
        "weekly_retention_rate": _weekly_retention(app),
        "order_to_activation_p50_minutes": np.percentile(to_act, 50),
        "order_to_activation_p95_minutes": np.percentile(to_act, 95),
        "activated_within_2h_share": (to_act <= VARS["activation_target_minutes"]).mean(),
        "ticket_accept_p50_minutes": np.percentile(t_accept, 50),
        "ticket_network_check_p50_minutes": np.percentile(t_check, 50),
        "ticket_answer_p50_minutes": np.percentile(t_answer, 50),
        "ticket_resolve_p50_minutes": np.percentile(t_resolve, 50),
        "ticket_accept_within_sla_share": (t_accept <= VARS["sla_accept_minutes"]).mean(),
        "ticket_network_check_within_sla_share": (t_check <= VARS["sla_network_check_minutes"]).mean(),
        "ticket_answer_within_sla_share": (t_answer <= VARS["sla_answer_minutes"]).mean(),
        "avg_satisfaction": tickets.satisfaction_score.dropna().astype(float).mean(),
        "five_g_user_share": active_subs.plan_product_id.map(products.category).eq("mobile_5g").mean(),
        "at_risk_user_share": users[users.last_login.notna()].at_risk.mean(),
    }
    return {n: float(v) for n, v in k.items()}


def _weekly_retention(app: AppActivity) -> float:
    """Of the users who logged in 7-13 days before as_of, the share who logged in in the last 7 days."""
    as_of = app.as_of
    login_days = app.logins.groupby("user_key").day.agg(set)
    prev = login_days[login_days.map(lambda s: any(as_of - timedelta(13) <= d <= as_of - timedelta(7) for d in s))]
    kept = prev.map(lambda s: any(as_of - timedelta(6) <= d <= as_of for d in s))
    return kept.mean()


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
