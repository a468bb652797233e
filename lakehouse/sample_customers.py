"""A small, deterministic set of CRM customers for the walking skeleton's main job."""

from __future__ import annotations

from datetime import datetime, timezone

from faker import Faker

COLUMNS = ("customer_id", "phone", "full_name", "gender", "birth_date", "city", "created_at", "updated_at")


def sample_customers(n: int, seed: int = 7, first_id: int = 1) -> list[tuple]:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    now = datetime(2026, 11, 1, tzinfo=timezone.utc).replace(tzinfo=None)
    rows = []
    for i in range(n):
        gender = fake.random_element(["M", "F"])
        name = fake.name_male() if gender == "M" else fake.name_female()
        rows.append((
            first_id + i,
            fake.phone_number(),
            name,
            gender,
            fake.date_of_birth(minimum_age=18, maximum_age=75),
            fake.city_name(),
            now,
            now,
        ))
    return rows
