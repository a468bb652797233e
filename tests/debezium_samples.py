"""Debezium change envelopes as the PostgreSQL connector writes them (JSON converter, no
schemas, compact separators), for the parser tests of both tiers."""

from __future__ import annotations

import json

CUSTOMER_ROW = {
    "customer_id": 7,
    "phone": "+86 138 0000 0001",
    "full_name": "Li Wei",
    "gender": "M",
    "birth_date": 7425,
    "city": "Beijing",
    "acquisition_channel": "app",
    "created_at": 1795655794456616,
    "updated_at": 1795655794456616,
}
PRODUCT_ROW = {
    "product_id": 1,
    "product_code": "P1",
    "product_name": "5G 50GB",
    "category": "data_pack",
    "business_type": "MOB",
    "price": "29.90",
    "data_allowance_gb": "10.00",
    "is_active": True,
    "created_at": 0,
    "updated_at": 0,
}


def envelope(op, before=None, after=None, **source) -> bytes:
    src = {
        "version": "3.6.1.Final",
        "connector": "postgresql",
        "name": "crm",
        "ts_ms": 1795655794458,
        "snapshot": "false",
        "db": "crm",
        "sequence": '["43126000","43127248"]',
        "schema": "public",
        "table": "customers",
        "txId": 807,
        "lsn": 43127248,
        "xmin": None,
    }
    src.update(source)
    body = {"before": before, "after": after, "source": src, "transaction": None, "op": op, "ts_ms": src["ts_ms"] or 0}
    return json.dumps(body, separators=(",", ":")).encode()
