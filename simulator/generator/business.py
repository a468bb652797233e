"""CRM and BSS tables: customers, subscribers, products, orders, monthly usage, service tickets.

Every array is drawn from seeded numpy streams; Faker supplies name and city pools once.
Planted defects are recorded in the manifest with their keys as they are planted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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
    pick_rows,
    stream,
    to_datetime64,
    unique_phones,
)
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest

SEGMENTS = np.array(["young", "family", "senior"])


@dataclass
class People:
    """What later generators need to know about the population (not written anywhere)."""

    customer_id: np.ndarray
    phone: np.ndarray  # canonical 11 digits, the truth
    segment: np.ndarray  # young / family / senior
    segment_idx: np.ndarray  # 0 / 1 / 2, the same
    age: np.ndarray
    churn_day: np.ndarray  # day index after which the user goes silent; -1 = never


def products_table(cfg: GeneratorConfig) -> pa.Table:
    created = np.datetime64(cfg.start - timedelta(days=400), "us")
    p = cat.PRODUCTS
    return pa.table(
        {
            "product_id": np.arange(1, len(p) + 1, dtype=np.int64),
            "product_code": [r[0] for r in p],
            "product_name": [r[1] for r in p],
            "category": [r[2] for r in p],
            "business_type": [r[3] for r in p],
            "price": pa.array([f"{r[4]:.2f}" for r in p]).cast(pa.decimal128(10, 2)),
            "data_allowance_gb": pa.array([None if r[5] is None else f"{r[5]:.2f}" for r in p]).cast(
                pa.decimal128(8, 2)
            ),
            "is_active": [True] * len(p),
            "created_at": np.full(len(p), created),
            "updated_at": np.full(len(p), created),
        }
    )


def customers(cfg: GeneratorConfig, m: Manifest) -> tuple[pa.Table, pa.Table, People]:
    rng = stream(cfg.seed, "customers")
    n = cfg.n_customers
    fake = Faker("zh_CN")
    fake.seed_instance(cfg.seed)
    male_names = np.array([fake.name_male() for _ in range(2000)])
    female_names = np.array([fake.name_female() for _ in range(2000)])
    cities = np.array(sorted({fake.city_name() for _ in range(400)}))
    city_w = 1.0 / np.arange(1, len(cities) + 1) ** 0.8

    segment = rng.choice(3, size=n, p=[0.35, 0.45, 0.20])
    age = np.select(
        [segment == 0, segment == 1], [rng.integers(18, 31, n), rng.integers(31, 56, n)], rng.integers(56, 81, n)
    )
    birth = np.datetime64(cfg.start, "D") - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    gender = rng.choice(np.array(["M", "F", "U"]), size=n, p=[0.49, 0.49, 0.02])
    names = np.where(gender == "M", male_names[rng.integers(0, 2000, n)], female_names[rng.integers(0, 2000, n)])
    start_us = epoch_us(cfg.start)
    created = start_us - rng.integers(1, 5 * 365, n) * US_PER_DAY + diurnal_offsets(rng, n)
    updated = np.maximum(created, start_us - rng.integers(0, 200, n) * US_PER_DAY)
    phone = unique_phones(rng, n)
    customer_id = np.arange(1, n + 1, dtype=np.int64)

    # Planted defects on the CRM's copy of the phone, on disjoint rows.
    crm_phone = phone.astype(object)
    taken = np.zeros(n, dtype=bool)
    nulls = pick_rows(rng, n, taken, cfg.defects.null_phone)
    taken[nulls] = True
    bad = pick_rows(rng, n, taken, cfg.defects.malformed_phone)
    taken[bad] = True
    variants = pick_rows(rng, n, taken, cfg.defects.phone_format_variants)
    taken[variants] = True
    crm_phone[nulls] = None
    crm_phone[bad] = malformed_phones(rng, phone[bad])
    crm_phone[variants] = phone_variants(rng, phone[variants])
    m.defect("null_phone", "crm.customers", customer_id[nulls])
    m.defect("malformed_phone", "crm.customers", customer_id[bad])
    m.defect("phone_format_variants", "crm.customers", customer_id[variants])

    # Churners: a share of users whose app use stops at least 3 days before the window ends.
    churn = rng.random(n) < np.select([segment == 2], [0.12], 0.07)
    churn_day = np.where(churn, rng.integers(0, max(1, cfg.days - 3), n), -1)

    crm = pa.table(
        {
            "customer_id": customer_id,
            "phone": pa.array(crm_phone.tolist(), pa.string()),
            "full_name": names,
            "gender": gender,
            "birth_date": birth,
            "city": cities[rng.choice(len(cities), size=n, p=city_w / city_w.sum())],
            "acquisition_channel": rng.choice(
                np.array(cat.CHANNELS_ACQUISITION), size=n, p=[0.35, 0.2, 0.15, 0.1, 0.12, 0.08]
            ),
            "created_at": to_datetime64(created),
            "updated_at": to_datetime64(updated),
        }
    )

    # BSS: one account per number, its own gender code (ISO 5218); some disagree with the CRM.
    code = np.select([gender == "M", gender == "F"], ["1", "2"], "0").astype(object)
    comparable = (gender != "U") & ~np.isin(np.arange(n), np.concatenate([nulls, bad]))
    flips = pick_rows(rng, n, ~comparable, cfg.defects.gender_mismatch)
    code[flips] = np.where(gender[flips] == "M", "2", "1")
    m.defect("gender_mismatch", "bss.subscribers", phone[flips], key_name="phone")
    plans = _segment_products(rng, segment, {"mobile_4g", "mobile_5g"})
    status = rng.choice(np.array(["active", "suspended", "closed"]), size=n, p=[0.95, 0.03, 0.02])
    subs = pa.table(
        {
            "subscriber_id": customer_id + 5_000_000,
            "phone": phone,
            "gender": pa.array(code.tolist(), pa.string()),
            "plan_product_id": plans,
            "status": status,
            "activated_at": to_datetime64(created),
            "updated_at": to_datetime64(updated),
        }
    )
    people = People(customer_id, phone, SEGMENTS[segment], segment, age, churn_day)
    return crm, subs, people


def _segment_products(rng, segment_idx: np.ndarray, categories: set[str] | None = None) -> np.ndarray:
    """A product id per row, drawn with the row's life-stage weights (optionally within categories)."""
    out = np.empty(len(segment_idx), dtype=np.int64)
    for s, name in enumerate(SEGMENTS):
        rows = np.flatnonzero(segment_idx == s)
        w = np.array(
            [
                cat.SEGMENT_CATEGORY_WEIGHTS[name][p[2]] if categories is None or p[2] in categories else 0.0
                for p in cat.PRODUCTS
            ]
        )
        out[rows] = rng.choice(len(w), size=len(rows), p=w / w.sum()) + 1
    return out


def orders(cfg: GeneratorConfig, people: People, m: Manifest) -> pa.Table:
    rng = stream(cfg.seed, "orders")
    seg_idx = people.segment_idx
    mean = cfg.ORDERS_PER_CUSTOMER * np.array([1.3, 0.95, 0.55])[seg_idx]
    per_user = rng.poisson(mean)
    owner = np.repeat(np.arange(len(people.phone)), per_user)
    n = len(owner)
    product_id = _segment_products(rng, seg_idx[owner])
    prod = cat.PRODUCTS
    price = np.array([p[4] for p in prod])[product_id - 1]
    btype = np.array([p[3] for p in prod])[product_id - 1]

    start_us = epoch_us(cfg.start)
    created = start_us + rng.integers(0, cfg.days, n) * US_PER_DAY + diurnal_offsets(rng, n)
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
    codes = np.array([cat.STATUS_CODES[b] for b in btype]) if n else np.empty((0, 3), dtype=object)
    status = codes[np.arange(n), outcome] if n else np.array([], dtype=object)
    young_ch = [0.4, 0.25, 0.25, 0.05, 0.05]
    family_ch = [0.3, 0.2, 0.15, 0.25, 0.10]
    senior_ch = [0.1, 0.1, 0.05, 0.55, 0.20]
    ch_p = np.array([young_ch, family_ch, senior_ch])[seg_idx[owner]]
    channel = np.array(cat.CHANNELS_ORDER)[(ch_p.cumsum(1) > rng.random(n)[:, None]).argmax(1)]

    # Order number: business type + creation date + a serial per type and day, by creation time.
    day_str = to_datetime64(created).astype("datetime64[D]").astype(str)
    order_key = np.char.add(btype.astype(str), np.char.replace(day_str, "-", ""))
    order = np.lexsort((created, order_key))
    serial = np.empty(n, dtype=np.int64)
    sorted_keys = order_key[order]
    new_group = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]] if n else np.array([], bool)
    idx = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0)) if n else idx
    serial[order] = idx - group_start + 1
    order_id = np.char.add(order_key, np.char.zfill(serial.astype(str), 6))

    amount = price.copy()
    phone = people.phone[owner].astype(object)
    taken = np.zeros(n, dtype=bool)
    mism = pick_rows(rng, n, taken, cfg.defects.amount_mismatch)
    taken[mism] = True
    amount[mism] = np.round(
        price[mism] * rng.choice([0.5, 0.8, 0.9, 1.1], len(mism)) + rng.choice([0, 0.01, 5], len(mism)), 2
    )
    amount[mism] = np.where(amount[mism] == price[mism], price[mism] + 1, amount[mism])
    orphans = pick_rows(rng, n, taken, cfg.defects.orphan_orders)
    phone[orphans] = unique_phones(rng, len(orphans), exclude=people.phone)
    m.defect("amount_mismatch", "bss.orders", order_id[mism], key_name="order_id")
    m.defect("orphan_orders", "bss.orders", order_id[orphans], key_name="order_id")

    updated = np.maximum.reduce([created, paid, activated])
    return pa.table(
        {
            "order_id": order_id,
            "phone": pa.array(phone.tolist(), pa.string()),
            "product_id": product_id,
            "business_type": btype,
            "channel": channel,
            "amount": pa.array([f"{a:.2f}" for a in amount.tolist()]).cast(pa.decimal128(10, 2)),
            "status": status.astype(str),
            "created_at": to_datetime64(created),
            "paid_at": pa.array(to_datetime64(paid), mask=paid < 0),
            "activated_at": pa.array(to_datetime64(activated), mask=activated < 0),
            "updated_at": to_datetime64(updated),
        }
    )


def monthly_usage(cfg: GeneratorConfig, people: People, subs: pa.Table) -> pa.Table:
    rng = stream(cfg.seed, "usage")
    first = date(cfg.start.year, cfg.start.month, 1)
    last = cfg.start + timedelta(days=cfg.days - 1)
    months = []
    d = first
    while d <= last:
        months.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    open_rows = np.flatnonzero(subs.column("status").to_numpy(zero_copy_only=False) != "closed")
    seg = people.segment[open_rows]
    mean_gb = np.select([seg == "young", seg == "family"], [55.0, 28.0], 6.0)
    plan = subs.column("plan_product_id").to_numpy()[open_rows]
    plan_price = np.array([p[4] for p in cat.PRODUCTS])[plan - 1]
    cols = {k: [] for k in ("phone", "bill_month", "data_gb", "call_minutes", "bill_amount", "updated_at")}
    for mo in months:
        k = len(open_rows)
        gb = np.round(rng.gamma(2.0, mean_gb / 2.0, k), 3)
        minutes = rng.poisson(np.select([seg == "senior"], [320], 150))
        extra = np.round(np.maximum(0, gb - 60) * 0.5, 2)
        cols["phone"].append(people.phone[open_rows])
        cols["bill_month"].append(np.full(k, np.datetime64(mo, "D")))
        cols["data_gb"].append(gb)
        cols["call_minutes"].append(minutes.astype(np.int32))
        cols["bill_amount"].append(np.round(plan_price + extra, 2))
        nxt = date(mo.year + (mo.month == 12), mo.month % 12 + 1, 1)
        cols["updated_at"].append(np.full(k, np.datetime64(nxt, "us")))
    cat_ = {k: np.concatenate(v) for k, v in cols.items()}
    return pa.table(
        {
            "phone": cat_["phone"],
            "bill_month": cat_["bill_month"],
            "data_gb": pa.array([f"{x:.3f}" for x in cat_["data_gb"].tolist()]).cast(pa.decimal128(10, 3)),
            "call_minutes": cat_["call_minutes"],
            "bill_amount": pa.array([f"{x:.2f}" for x in cat_["bill_amount"].tolist()]).cast(pa.decimal128(10, 2)),
            "updated_at": cat_["updated_at"],
        }
    )


def service_tickets(cfg: GeneratorConfig, people: People, crm: pa.Table) -> pa.Table:
    rng = stream(cfg.seed, "tickets")
    n = int(round(0.3 * len(people.phone)))
    owner = rng.integers(0, len(people.phone), n)
    category = rng.choice(
        np.array(["network", "billing", "service", "product", "other"]), size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05]
    )
    channel = rng.choice(np.array(["hotline", "app", "wechat", "store"]), size=n, p=[0.5, 0.25, 0.15, 0.1])
    start_us = epoch_us(cfg.start)
    end_us = start_us + cfg.days * US_PER_DAY
    opened = start_us + rng.integers(0, cfg.days, n) * US_PER_DAY + diurnal_offsets(rng, n)
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
    late_minutes = np.maximum(0, (answered - opened) / US_PER_MIN - 60) * (answered > 0)
    score = np.clip(np.round(5 - late_minutes / 30 - rng.exponential(0.6, n)), 1, 5).astype(np.int16)
    has_score = (resolved > 0) & (rng.random(n) < 0.85)
    status = np.select(
        [has_score, resolved > 0, answered > 0, (checked < 0) & (category == "network") & (accepted > 0), accepted > 0],
        ["closed", "resolved", "answered", "checking", "accepted"],
        "open",
    )
    updated = np.maximum.reduce([opened, accepted, checked, answered, resolved])
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
            "status": status,
            "opened_at": to_datetime64(opened),
            "accepted_at": ts(accepted),
            "network_checked_at": ts(checked),
            "answered_at": ts(answered),
            "resolved_at": ts(resolved),
            "satisfaction_score": pa.array(score, mask=~has_score),
            "updated_at": to_datetime64(updated),
        }
    )
