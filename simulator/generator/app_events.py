"""App and mini-program events: a login on every active day, then page views, video plays,
data sessions and purchases, heavier for the young; churners fade, then go silent for good."""

from __future__ import annotations

import numpy as np

from simulator.generator.business import People
from simulator.generator.common import US_PER_DAY, diurnal_offsets, epoch_us, hex_ids, stream
from simulator.generator.config import GeneratorConfig

TYPES = np.array(["page_view", "video_play", "data_session", "purchase", "logout"])
# Per life stage: how often a user opens the app, extra events per active day, event mix. An
# operator's app is opened every other day or less: many who stay go 3 days without a login.
ACTIVE_P = np.array([0.55, 0.4, 0.22])
EXTRA_EVENTS = np.array([10.0, 7.4, 4.4])
MIX = np.array(
    [
        [0.40, 0.32, 0.18, 0.03, 0.07],  # young: video
        [0.52, 0.18, 0.20, 0.03, 0.07],
        [0.65, 0.08, 0.15, 0.02, 0.10],
    ]
)
VERSIONS = np.array(["9.4.0", "9.3.2", "9.3.1", "9.2.0", "8.9.7"])


def events(cfg: GeneratorConfig, people: People) -> dict[str, np.ndarray]:
    """Column arrays of every event, sorted by time. Times are epoch microseconds (UTC)."""
    rng = stream(cfg.seed, "app-events")
    user, day = _draw_user_days(rng, cfg, people)
    total = len(user)
    # Local (UTC+8) day start, then a time of day; the earliest event of a user-day is its login.
    t = epoch_us(cfg.start) - 8 * 3_600_000_000 + day * US_PER_DAY + diurnal_offsets(rng, total)
    order = np.lexsort((t, day, user))
    user, day, t = user[order], day[order], t[order]
    kind = _draw_kinds(rng, people.segment_idx[user], user, day)
    bytes_, duration = _draw_volumes(rng, kind)
    device = hex_ids(stream(cfg.seed, "devices"), len(people.phone), 16)
    by_time = np.argsort(t, kind="stable")
    cols = {
        "event_id": hex_ids(rng, total),
        "user_phone": people.phone[user].astype(object),
        "device_id": np.char.add("d-", device[user]),
        "event_type": kind,
        "event_at_us": t,
        "app_version": VERSIONS[rng.choice(5, size=total, p=[0.45, 0.25, 0.15, 0.1, 0.05])],
        "channel": np.where(rng.random(total) < 0.8, "app", "mini_program"),
        "bytes": bytes_,
        "duration_s": duration,
        "day": day,
    }
    return {k: v[by_time] for k, v in cols.items()}


def _draw_user_days(rng: np.random.Generator, cfg: GeneratorConfig, people: People) -> tuple[np.ndarray, np.ndarray]:
    """The user (row index) and day of every event: a login and some extras per active day."""
    n, days = len(people.phone), cfg.days
    seg = people.segment_idx
    scale = cfg.EVENTS_PER_CUSTOMER / 100.0
    user_p = np.clip(ACTIVE_P[seg] * rng.uniform(0.7, 1.1, n), 0.05, 0.98)
    factor = people.activity(days)
    active = rng.random((n, days)) < user_p[:, None] * factor
    extra = np.where(active, rng.poisson(EXTRA_EVENTS[seg][:, None] * scale * np.maximum(factor, 0.2)), 0)
    per_cell = np.where(active, 1 + extra, 0).ravel()
    user = np.repeat(np.repeat(np.arange(n), days), per_cell)
    day = np.repeat(np.tile(np.arange(days), n), per_cell)
    return user, day


def _draw_kinds(rng: np.random.Generator, seg: np.ndarray, user: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Event types by the user's life-stage mix; the first event of each user-day (in time order) is a login."""
    total = len(user)
    first = np.r_[True, (user[1:] != user[:-1]) | (day[1:] != day[:-1])] if total else np.array([], bool)
    mix = MIX[seg]
    kind = TYPES[(mix.cumsum(1) > rng.random(total)[:, None]).argmax(1)] if total else np.array([], "<U12")
    return np.where(first, "login", kind)


def _draw_volumes(rng: np.random.Generator, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes and seconds per event, -1 where the event type has none."""
    total = len(kind)
    bytes_ = np.select(
        [kind == "video_play", kind == "data_session", kind == "page_view"],
        [
            rng.lognormal(np.log(180e6), 0.8, total),
            rng.lognormal(np.log(25e6), 1.0, total),
            rng.lognormal(np.log(200e3), 0.6, total),
        ],
        -1,
    ).astype(np.int64)
    duration = np.select(
        [kind == "video_play", kind == "data_session"],
        [rng.lognormal(np.log(900), 0.7, total), rng.lognormal(np.log(300), 0.9, total)],
        -1,
    ).astype(np.int64)
    return bytes_, duration
