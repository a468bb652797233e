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


def customer_change(op: str, cid: int, city: str, lsn: int, commit_lsn: int | None = None, tx_id: int = 1):
    """One crm.customers change parsed as the consumer parses it (a snapshot read when
    ``commit_lsn`` is None): for the bronze and current-state tests."""
    from schemas.contracts import get_contract
    from spark_jobs.cdc.envelope import parse_change

    image = {**CUSTOMER_ROW, "customer_id": cid, "city": city, "birth_date": 0, "created_at": 0, "updated_at": 0}
    body = {
        "op": op,
        "before": image if op == "d" else None,
        "after": None if op in ("d", "t") else image,
        "source": {
            "ts_ms": 1,
            "txId": tx_id,
            "lsn": lsn,
            "sequence": json.dumps([None if commit_lsn is None else str(commit_lsn), str(lsn)]),
        },
    }
    key = None if op == "t" else json.dumps({"customer_id": cid}).encode()  # a truncate has no key
    return parse_change(key, json.dumps(body).encode(), get_contract("crm.customers"))
