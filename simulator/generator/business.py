"""CRM and BSS tables: customers, subscribers, products, orders, monthly usage, service tickets.

Every array is drawn from seeded numpy streams; Faker supplies name and city pools once.
Planted defects are recorded in the manifest with their keys as they are planted.

Each table is built in named steps that draw from the table's stream in a fixed order: a step
that moves, or draws more or less, changes every value drawn after it for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import pyarrow as pa
from faker import Faker

from simulator.generator import catalogue as cat
from simulator.generator.common import (
    US_PER_DAY,
    US_PER_MIN,
    diurnal_offsets,
    epoch_us,
    malformed_phones,
    phone_variants,
    stream,
    to_datetime64,
    unique_phones,
)
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest
from simulator.generator.planter import DefectPlanter

SEGMENTS = np.array(["young", "family", "senior"])
# Product attributes by product_id - 1.
PRICES = np.array([p.price for p in cat.PRODUCTS])
BUSINESS_TYPES = np.array([p.business_type for p in cat.PRODUCTS])
# Sales channel weights (cat.CHANNELS_ORDER) per life stage: young, family, senior.
ORDER_CHANNEL_WEIGHTS = np.array(
    [
        [0.4, 0.25, 0.25, 0.05, 0.05],
        [0.3, 0.2, 0.15, 0.25, 0.10],
        [0.1, 0.1, 0.05, 0.55, 0.20],
    ]
)


@dataclass
class People:
    """What later generators need to know about the population (not written anywhere)."""

    customer_id: np.ndarray
    phone: np.ndarray  # canonical 11 digits, the truth
    segment: np.ndarray  # young / family / senior
    segment_idx: np.ndarray  # 0 / 1 / 2, the same
    age: np.ndarray
    churn: Churn

    @property
    def churn_day(self) -> np.ndarray:
        return self.churn.day

    def activity(self, days: int) -> np.ndarray:
        """(users x days) factor on each user's app and data use: 1 as usual, fading over a
        churner's last weeks, 0 once the account is closed, a dip that recovers for some others."""
        c = self.churn
        d = np.arange(days)[None, :]
        fade_from = (c.day - c.decline_days)[:, None]
        fading = np.clip((d - fade_from) / np.maximum(c.decline_days, 1)[:, None], 0, 1)
        factor = np.where((c.day >= 0)[:, None], 1 - 0.9 * np.sqrt(fading), 1.0)  # steepest at first
        dip = (d >= c.dip_start[:, None]) & (d < (c.dip_start + c.dip_days)[:, None])
        factor = np.where(dip, factor * c.dip_depth[:, None], factor)
        gone = np.where(c.day >= 0, c.day, np.where(c.closed_before, 0, days))
        return np.where(d < gone[:, None], factor, 0.0)


@dataclass
class Churn:
    """Who terminates and how their last weeks look (the churn model's ground truth).

    ``day``: the window day the account closes (-1: stays); ``decline_days``: how long use fades
    before (0: leaves without warning); a dip (``dip_*``, depth < 1) is a non-churner's false
    signal; ``closed_before``: closed before the window (no activity, not a churn in it)."""

    day: np.ndarray
    decline_days: np.ndarray
    dip_start: np.ndarray
    dip_days: np.ndarray
    dip_depth: np.ndarray
    closed_before: np.ndarray


def _decimals(values, digits: int, precision: int) -> pa.Array:
    return pa.array([f"{v:.{digits}f}" for v in values]).cast(pa.decimal128(precision, digits))


def products_table(cfg: GeneratorConfig) -> pa.Table:
    created = np.datetime64(cfg.start - timedelta(days=400), "us")
    p = cat.PRODUCTS
    return pa.table(
        {
            "product_id": np.arange(1, len(p) + 1, dtype=np.int64),
            "product_code": [r.code for r in p],
            "product_name": [r.name for r in p],
            "category": [r.category for r in p],
            "business_type": [r.business_type for r in p],
            "price": _decimals([r.price for r in p], 2, 10),
            "data_allowance_gb": pa.array(
                [None if r.data_allowance_gb is None else f"{r.data_allowance_gb:.2f}" for r in p]
            ).cast(pa.decimal128(8, 2)),
            "is_active": [True] * len(p),
            "created_at": np.full(len(p), created),
            "updated_at": np.full(len(p), created),
        }
    )


# --- customers and subscribers ---------------------------------------------------------------


class _NamePools(NamedTuple):
    male: np.ndarray
    female: np.ndarray
    cities: np.ndarray
    city_weights: np.ndarray  # Zipf-like: the first cities are the big ones


@dataclass
class _Profiles:
    """The customers as drawn, before any defect is planted."""

    customer_id: np.ndarray
    segment_idx: np.ndarray
    age: np.ndarray
    birth: np.ndarray
    gender: np.ndarray  # M / F / U
    names: np.ndarray
    created: np.ndarray  # epoch microseconds
    updated: np.ndarray
    phone: np.ndarray


def customers(cfg: GeneratorConfig, m: Manifest) -> tuple[pa.Table, pa.Table, People]:
    rng = stream(cfg.seed, "customers")
    pools = _name_pools(cfg.seed)
    prof = _draw_profiles(rng, cfg, pools)
    crm_phone, unusable_phone = _plant_crm_phone_defects(rng, cfg, m, prof)
    churn = _draw_churn(rng, cfg, prof.segment_idx)
    crm = _crm_customers_table(rng, prof, crm_phone, pools)
    subs = _bss_subscribers_table(rng, cfg, m, prof, unusable_phone, churn)
    people = People(prof.customer_id, prof.phone, SEGMENTS[prof.segment_idx], prof.segment_idx, prof.age, churn)
    return crm, subs, people


def _name_pools(seed: int) -> _NamePools:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    male = np.array([fake.name_male() for _ in range(2000)])
    female = np.array([fake.name_female() for _ in range(2000)])
    cities = np.array(sorted({fake.city_name() for _ in range(400)}))
    return _NamePools(male, female, cities, 1.0 / np.arange(1, len(cities) + 1) ** 0.8)


def _draw_profiles(rng: np.random.Generator, cfg: GeneratorConfig, pools: _NamePools) -> _Profiles:
    n = cfg.n_customers
    segment = rng.choice(3, size=n, p=[0.35, 0.45, 0.20])
    age = np.select(
        [segment == 0, segment == 1], [rng.integers(18, 31, n), rng.integers(31, 56, n)], rng.integers(56, 81, n)
    )
    birth = np.datetime64(cfg.start, "D") - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    gender = rng.choice(np.array(["M", "F", "U"]), size=n, p=[0.49, 0.49, 0.02])
    names = np.where(gender == "M", pools.male[rng.integers(0, 2000, n)], pools.female[rng.integers(0, 2000, n)])
    start_us = epoch_us(cfg.start)
    created = start_us - rng.integers(1, 5 * 365, n) * US_PER_DAY + diurnal_offsets(rng, n)
    updated = np.maximum(created, start_us - rng.integers(0, 200, n) * US_PER_DAY)
    phone = unique_phones(rng, n)
    customer_id = np.arange(1, n + 1, dtype=np.int64)
    return _Profiles(customer_id, segment, age, birth, gender, names, created, updated, phone)


def _plant_crm_phone_defects(
    rng: np.random.Generator, cfg: GeneratorConfig, m: Manifest, prof: _Profiles
) -> tuple[np.ndarray, np.ndarray]:
    """The CRM's copy of the phone with null, malformed and variant numbers on disjoint rows;
    and the rows whose phone cannot be matched (null or malformed)."""
    planter = DefectPlanter(rng, m, "crm.customers", prof.customer_id, key_name="customer_id")
    nulls = planter.plant("null_phone", cfg.defects.null_phone)
    bad = planter.plant("malformed_phone", cfg.defects.malformed_phone)
    variants = planter.plant("phone_format_variants", cfg.defects.phone_format_variants)
    crm_phone = prof.phone.astype(object)
    crm_phone[nulls] = None
    crm_phone[bad] = malformed_phones(rng, prof.phone[bad])
    crm_phone[variants] = phone_variants(rng, prof.phone[variants])
    return crm_phone, np.concatenate([nulls, bad])


# Relative churn by life stage (young, family, senior) and the share of churners who leave
# without their use fading first: what keeps any rule or model from being perfect.
CHURN_BY_SEGMENT = np.array([1.1, 0.75, 1.4])
SILENT_CHURNERS = 0.12
FALSE_SIGNALS = 0.03  # non-churners whose use dips for a while and recovers


def _draw_churn(rng: np.random.Generator, cfg: GeneratorConfig, segment_idx: np.ndarray) -> Churn:
    n = len(segment_idx)
    monthly = np.clip(cfg.monthly_churn * CHURN_BY_SEGMENT[segment_idx], 0, 1)
    churns = rng.random(n) < 1 - (1 - monthly) ** (cfg.days / 30)
    day = np.where(churns, rng.integers(0, cfg.days, n), -1)
    decline = np.where(rng.random(n) < SILENT_CHURNERS, 0, rng.integers(21, 43, n))
    dips = ~churns & (rng.random(n) < FALSE_SIGNALS)
    dip_start = np.where(dips, rng.integers(-14, cfg.days, n), cfg.days)
    closed_before = ~churns & (rng.random(n) < 0.02)
    return Churn(
        day=day,
        decline_days=np.where(churns, decline, 0),
        dip_start=dip_start,
        dip_days=rng.integers(7, 22, n),
        dip_depth=rng.uniform(0.1, 0.5, n),
        closed_before=closed_before,
    )


def _crm_customers_table(
    rng: np.random.Generator, prof: _Profiles, crm_phone: np.ndarray, pools: _NamePools
) -> pa.Table:
    n = len(prof.customer_id)
    return pa.table(
        {
            "customer_id": prof.customer_id,
            "phone": pa.array(crm_phone.tolist(), pa.string()),
            "full_name": prof.names,
            "gender": prof.gender,
            "birth_date": prof.birth,
            "city": pools.cities[
                rng.choice(len(pools.cities), size=n, p=pools.city_weights / pools.city_weights.sum())
            ],
            "acquisition_channel": rng.choice(
                np.array(cat.CHANNELS_ACQUISITION), size=n, p=[0.35, 0.2, 0.15, 0.1, 0.12, 0.08]
            ),
            "created_at": to_datetime64(prof.created),
            "updated_at": to_datetime64(prof.updated),
        }
    )


def _bss_subscribers_table(
    rng: np.random.Generator,
    cfg: GeneratorConfig,
    m: Manifest,
    prof: _Profiles,
    unusable_phone: np.ndarray,
    churn: Churn,
) -> pa.Table:
    """BSS: one account per number, its own gender code (ISO 5218); some disagree with the CRM
    (planted only where the CRM's gender is known and its phone can be matched). Terminations
    close the account and record when; the manifest's truth lists the window's."""
    n = len(prof.customer_id)
    gender = prof.gender
    code = np.select([gender == "M", gender == "F"], ["1", "2"], "0").astype(object)
    comparable = (gender != "U") & ~np.isin(np.arange(n), unusable_phone)
    planter = DefectPlanter(rng, m, "bss.subscribers", prof.phone, key_name="phone")
    flips = planter.plant("gender_mismatch", cfg.defects.gender_mismatch, eligible=comparable)
    code[flips] = np.where(gender[flips] == "M", "2", "1")
    plans = _segment_products(rng, prof.segment_idx, {"mobile_4g", "mobile_5g"})
    start_us = epoch_us(cfg.start)
    closed = (churn.day >= 0) | churn.closed_before
    terminated = np.where(
        churn.day >= 0,
        start_us + churn.day * US_PER_DAY + diurnal_offsets(rng, n),
        prof.created + ((start_us - prof.created) * rng.uniform(0.1, 0.99, n)).astype(np.int64),
    )
    terminated = np.where(closed, terminated, -1)
    status = np.where(closed, "closed", np.where(rng.random(n) < 0.03, "suspended", "active"))
    churned = np.flatnonzero(churn.day >= 0)
    m.truth["terminations"] = [
        {"phone": p, "terminated_at": str(t), "fading_days": int(f)}
        for p, t, f in zip(
            prof.phone[churned].tolist(),
            to_datetime64(terminated[churned]).astype(str).tolist(),
            churn.decline_days[churned].tolist(),
            strict=True,
        )
    ]
    return pa.table(
        {
            "subscriber_id": prof.customer_id + 5_000_000,
            "phone": prof.phone,
            "gender": pa.array(code.tolist(), pa.string()),
            "plan_product_id": plans,
            "status": status,
            "activated_at": to_datetime64(prof.created),
            "terminated_at": pa.array(to_datetime64(terminated), mask=terminated < 0),
            "updated_at": to_datetime64(np.maximum(prof.updated, terminated)),
        }
    )


def _segment_products(rng, segment_idx: np.ndarray, categories: set[str] | None = None) -> np.ndarray:
    """A product id per row, drawn with the row's life-stage weights (optionally within categories)."""
    out = np.empty(len(segment_idx), dtype=np.int64)
    for s, name in enumerate(SEGMENTS):
        rows = np.flatnonzero(segment_idx == s)
        w = np.array(
            [
                cat.SEGMENT_CATEGORY_WEIGHTS[name][p.category]
                if categories is None or p.category in categories
                else 0.0
                for p in cat.PRODUCTS
            ]
        )
        out[rows] = rng.choice(len(w), size=len(rows), p=w / w.sum()) + 1
    return out


# --- orders ----------------------------------------------------------------------------------


class _OrderTimes(NamedTuple):
    """Epoch microseconds; -1 where the step has not happened."""

    outcome: np.ndarray  # 0 pending, 1 activated, 2 cancelled
    created: np.ndarray
    paid: np.ndarray
    activated: np.ndarray


def orders(cfg: GeneratorConfig, people: People, m: Manifest) -> pa.Table:
    rng = stream(cfg.seed, "orders")
    owner, product_id = _draw_order_lines(rng, cfg, people.segment_idx)
    price = PRICES[product_id - 1]
    btype = BUSINESS_TYPES[product_id - 1]
    times = _draw_order_times(rng, cfg, btype)
    status = _order_status(btype, times.outcome)
    channel = _draw_order_channels(rng, people.segment_idx[owner])
    order_id = _order_numbers(btype, times.created)
    planter = DefectPlanter(rng, m, "bss.orders", order_id, key_name="order_id")
    amount = _plant_amount_mismatches(rng, planter, cfg.defects.amount_mismatch, price)
    phone = _plant_orphan_orders(rng, planter, cfg.defects.orphan_orders, people.phone, owner)
    return pa.table(
        {
            "order_id": order_id,
            "phone": pa.array(phone.tolist(), pa.string()),
            "product_id": product_id,
            "business_type": btype,
            "channel": channel,
            "amount": _decimals(amount.tolist(), 2, 10),
            "status": status.astype(str),
            "created_at": to_datetime64(times.created),
            "paid_at": pa.array(to_datetime64(times.paid), mask=times.paid < 0),
            "activated_at": pa.array(to_datetime64(times.activated), mask=times.activated < 0),
            "updated_at": to_datetime64(np.maximum.reduce([times.created, times.paid, times.activated])),
        }
    )


def _draw_order_lines(
    rng: np.random.Generator, cfg: GeneratorConfig, segment_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Who orders (a row index into the population per order) and which product."""
    mean = cfg.ORDERS_PER_CUSTOMER * np.array([1.3, 0.95, 0.55])[segment_idx]
    per_user = rng.poisson(mean)
    owner = np.repeat(np.arange(len(segment_idx)), per_user)
    return owner, _segment_products(rng, segment_idx[owner])


def _draw_order_times(rng: np.random.Generator, cfg: GeneratorConfig, btype: np.ndarray) -> _OrderTimes:
    n = len(btype)
    created = epoch_us(cfg.start) + rng.integers(0, cfg.days, n) * US_PER_DAY + diurnal_offsets(rng, n)
    outcome = rng.choice(3, size=n, p=[0.08, 0.80, 0.12])  # pending, activated, cancelled
    paid = np.where(
        (outcome == 1) | ((outcome == 2) & (rng.random(n) < 0.5)),
        created + (rng.exponential(8, n) * US_PER_MIN).astype(np.int64),
        -1,
    )
    # Minutes to over a day from payment to activation; broadband needs an installer visit.
    median_min = np.where(btype == "BRD", 360.0, 45.0)
    act_delay = (rng.lognormal(np.log(median_min), 1.3) * US_PER_MIN).astype(np.int64)
    activated = np.where(outcome == 1, paid + act_delay, -1)
    return _OrderTimes(outcome, created, paid, activated)


def _order_status(btype: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Each line of business writes the outcome in its own status codes."""
    n = len(btype)
    codes = np.array([cat.STATUS_CODES[b] for b in btype]) if n else np.empty((0, 3), dtype=object)
    return codes[np.arange(n), outcome] if n else np.array([], dtype=object)


def _draw_order_channels(rng: np.random.Generator, segment_idx: np.ndarray) -> np.ndarray:
    ch_p = ORDER_CHANNEL_WEIGHTS[segment_idx]
    return np.array(cat.CHANNELS_ORDER)[(ch_p.cumsum(1) > rng.random(len(segment_idx))[:, None]).argmax(1)]


def _order_numbers(btype: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Business type + creation date + a serial per type and day, by creation time."""
    n = len(btype)
    day_str = to_datetime64(created).astype("datetime64[D]").astype(str)
    order_key = np.char.add(btype.astype(str), np.char.replace(day_str, "-", ""))
    order = np.lexsort((created, order_key))
    serial = np.empty(n, dtype=np.int64)
    sorted_keys = order_key[order]
    new_group = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]] if n else np.array([], bool)
    idx = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0)) if n else idx
    serial[order] = idx - group_start + 1
    return np.char.add(order_key, np.char.zfill(serial.astype(str), 6))


def _plant_amount_mismatches(
    rng: np.random.Generator, planter: DefectPlanter, rate: float, price: np.ndarray
) -> np.ndarray:
    """The amount charged: the product's price, but never the price on the planted rows."""
    amount = price.copy()
    mism = planter.plant("amount_mismatch", rate)
    amount[mism] = np.round(
        price[mism] * rng.choice([0.5, 0.8, 0.9, 1.1], len(mism)) + rng.choice([0, 0.01, 5], len(mism)), 2
    )
    amount[mism] = np.where(amount[mism] == price[mism], price[mism] + 1, amount[mism])
    return amount


def _plant_orphan_orders(
    rng: np.random.Generator, planter: DefectPlanter, rate: float, phones: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """The ordering phone: the owner's, but on the planted rows a number no system knows."""
    phone = phones[owner].astype(object)
    orphans = planter.plant("orphan_orders", rate)
    phone[orphans] = unique_phones(rng, len(orphans), exclude=phones)
    return phone


# --- monthly usage and service tickets -------------------------------------------------------


def _bill_months(cfg: GeneratorConfig) -> list[date]:
    """First days of the months the window touches."""
    first = date(cfg.start.year, cfg.start.month, 1)
    last = cfg.start + timedelta(days=cfg.days - 1)
    months = []
    d = first
    while d <= last:
        months.append(d)
        d = _next_month(d)
    return months


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def monthly_usage(cfg: GeneratorConfig, people: People, subs: pa.Table) -> pa.Table:
    """A bill per open account and month; a churner's data use fades with its app use and its
    last bill is the month it terminates in."""
    rng = stream(cfg.seed, "usage")
    open_rows = np.flatnonzero(~people.churn.closed_before)
    seg = people.segment[open_rows]
    mean_gb = np.select([seg == "young", seg == "family"], [55.0, 28.0], 6.0)
    plan = subs.column("plan_product_id").to_numpy()[open_rows]
    plan_price = PRICES[plan - 1]
    activity = people.activity(cfg.days)[open_rows]
    churn_day = people.churn_day[open_rows]
    cols = {k: [] for k in ("phone", "bill_month", "data_gb", "call_minutes", "bill_amount", "updated_at")}
    for mo in _bill_months(cfg):
        first = max(0, (mo - cfg.start).days)
        last = min(cfg.days, (_next_month(mo) - cfg.start).days)
        billed = (churn_day < 0) | (churn_day >= first)
        k = int(billed.sum())
        use = activity[billed, first:last].mean(axis=1)
        gb = np.round(rng.gamma(2.0, mean_gb[billed] / 2.0, k) * use, 3)
        minutes = np.round(rng.poisson(np.select([seg[billed] == "senior"], [320], 150)) * use)
        extra = np.round(np.maximum(0, gb - 60) * 0.5, 2)
        cols["phone"].append(people.phone[open_rows][billed])
        cols["bill_month"].append(np.full(k, np.datetime64(mo, "D")))
        cols["data_gb"].append(gb)
        cols["call_minutes"].append(minutes.astype(np.int32))
        cols["bill_amount"].append(np.round(plan_price[billed] + extra, 2))
        cols["updated_at"].append(np.full(k, np.datetime64(_next_month(mo), "us")))
    cat_ = {k: np.concatenate(v) for k, v in cols.items()}
    return pa.table(
        {
            "phone": cat_["phone"],
            "bill_month": cat_["bill_month"],
            "data_gb": _decimals(cat_["data_gb"].tolist(), 3, 10),
            "call_minutes": cat_["call_minutes"],
            "bill_amount": _decimals(cat_["bill_amount"].tolist(), 2, 10),
            "updated_at": cat_["updated_at"],
        }
    )


class _TicketStages(NamedTuple):
    """Epoch microseconds; -1 where the stage has not happened by the end of the window."""

    opened: np.ndarray
    accepted: np.ndarray
    checked: np.ndarray  # network tickets only
    answered: np.ndarray
    resolved: np.ndarray


def service_tickets(cfg: GeneratorConfig, people: People, crm: pa.Table) -> pa.Table:
    rng = stream(cfg.seed, "tickets")
    owner, day = _ticket_owners(rng, cfg, people)
    n = len(owner)
    category = rng.choice(
        np.array(["network", "billing", "service", "product", "other"]), size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05]
    )
    channel = rng.choice(np.array(["hotline", "app", "wechat", "store"]), size=n, p=[0.5, 0.25, 0.15, 0.1])
    st = _draw_ticket_stages(rng, cfg, category, day)
    late_minutes = np.maximum(0, (st.answered - st.opened) / US_PER_MIN - 60) * (st.answered > 0)
    score = np.clip(np.round(5 - late_minutes / 30 - rng.exponential(0.6, n)), 1, 5).astype(np.int16)
    has_score = (st.resolved > 0) & (rng.random(n) < 0.85)
    crm_phone = crm.column("phone").to_numpy(zero_copy_only=False)

    def ts(a):
        return pa.array(to_datetime64(a), mask=a < 0)

    return pa.table(
        {
            "ticket_id": np.arange(1, n + 1, dtype=np.int64),
            "customer_id": people.customer_id[owner],
            "phone": pa.array(crm_phone[owner].tolist(), pa.string()),
            "category": category,
            "channel": channel,
            "status": _ticket_status(st, category, has_score),
            "opened_at": to_datetime64(st.opened),
            "accepted_at": ts(st.accepted),
            "network_checked_at": ts(st.checked),
            "answered_at": ts(st.answered),
            "resolved_at": ts(st.resolved),
            "satisfaction_score": pa.array(score, mask=~has_score),
            "updated_at": to_datetime64(np.maximum.reduce(list(st))),
        }
    )


def _ticket_owners(rng: np.random.Generator, cfg: GeneratorConfig, people: People) -> tuple[np.ndarray, np.ndarray]:
    """Who complains on which day: anyone, any day; and more often while their use fades or
    dips (a churner's last weeks, a false signal's)."""
    n_users = len(people.phone)
    n = int(round(0.3 * n_users))
    owner = rng.integers(0, n_users, n)
    day = rng.integers(0, cfg.days, n)
    activity = people.activity(cfg.days)
    fading = (activity > 0) & (activity < 0.8)
    fading &= (people.churn_day >= 0)[:, None] | (people.churn.dip_start < cfg.days)[:, None]
    user, fade_day = np.nonzero(fading & (rng.random(fading.shape) < 0.07))
    return np.concatenate([owner, user]), np.concatenate([day, fade_day])


def _draw_ticket_stages(
    rng: np.random.Generator, cfg: GeneratorConfig, category: np.ndarray, day: np.ndarray
) -> _TicketStages:
    n = len(category)
    start_us = epoch_us(cfg.start)
    end_us = start_us + cfg.days * US_PER_DAY
    opened = start_us + day * US_PER_DAY + diurnal_offsets(rng, n)
    # Stage SLAs: accept <= 10 min, network check <= 30 min, answer <= 60 min from opening.
    accepted = opened + (rng.exponential(5, n) * US_PER_MIN).astype(np.int64)
    checked = np.where(category == "network", accepted + (rng.exponential(14, n) * US_PER_MIN).astype(np.int64), -1)
    answered = np.maximum(accepted, checked) + (rng.exponential(22, n) * US_PER_MIN).astype(np.int64)
    resolved = answered + (rng.exponential(180, n) * US_PER_MIN).astype(np.int64)
    # Stages after the end of the window have not happened yet.
    for arr in (accepted, checked, answered, resolved):
        arr[arr >= end_us] = -1
    checked[accepted < 0] = -1
    answered[(accepted < 0) | ((category == "network") & (checked < 0))] = -1
    resolved[answered < 0] = -1
    return _TicketStages(opened, accepted, checked, answered, resolved)


def _ticket_status(st: _TicketStages, category: np.ndarray, has_score: np.ndarray) -> np.ndarray:
    waiting_check = (st.checked < 0) & (category == "network") & (st.accepted > 0)
    return np.select(
        [has_score, st.resolved > 0, st.answered > 0, waiting_check, st.accepted > 0],
        ["closed", "resolved", "answered", "checking", "accepted"],
        "open",
    )
