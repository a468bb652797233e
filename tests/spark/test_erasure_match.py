"""How the erasure finds a person (spark_jobs/erasure.py): by the token of their number, in a
phone column typed any way, and in raw texts (a CDC message, a landed line)."""

from __future__ import annotations

import json

from core import pii
from spark_jobs import erasure

NUMBER = "+8613812345678"
TYPED = ["13812345678", "+86 138 1234 5678", "138-1234-5678", "0086 13812345678", "86-13812345678"]
OTHERS = ["13812345679", "+86 138 1234 5679", "12812345678", "1381234567", None]


def test_a_phone_column_matches_every_typed_form_of_the_number_only(spark, pii_home):
    token = pii.token(NUMBER, pii_home)
    df = spark.createDataFrame([(p,) for p in TYPED + OTHERS], "phone string")
    got = [r[0] for r in df.where(erasure.phone_is("phone", token)).collect()]
    assert got == TYPED


def test_a_raw_text_matches_when_it_mentions_the_number_in_any_typed_form(spark, pii_home):
    token = pii.token(NUMBER, pii_home)
    texts = [json.dumps({"after": {"phone": p, "customer_id": 42}}) for p in TYPED]
    texts += [json.dumps({"after": {"phone": p, "customer_id": 42}}) for p in OTHERS]
    texts += ['{"event_id": "MOB20261125000123", "user_phone": "13900001111"}', "not json 138 1234"]
    df = spark.createDataFrame([(t, t.encode()) for t in texts], "line string, raw binary")
    for column in ("line", "raw"):
        got = [r[0] for r in df.where(erasure.text_mentions(column, token)).collect()]
        assert got == texts[: len(TYPED)], column


def test_no_match_expression_carries_the_number(pii_home):
    token = pii.token(NUMBER, pii_home)
    for sql in (erasure.phone_is("phone", token), erasure.text_mentions("raw", token)):
        assert "13812345678" not in sql and token in sql
