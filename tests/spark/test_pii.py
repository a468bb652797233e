"""The PII functions of the pipeline's JVM (infra/jvm/lakehouse/src/lakehouse/pii) against their
Python twin (core/pii.py) and Spark's own aes_decrypt. dbt's masks and what gold holds:
tests/integration/test_pii.py."""

from __future__ import annotations

import hashlib

import pytest
from pyspark.sql import functions as F

from core import pii
from core.secrets import secret

PHONE = "+8613812341234"


def test_the_token_is_the_same_in_the_jvm_and_in_python(spark, pii_home):
    got = spark.sql(f"select pii.token('{PHONE}'), pii.token('+8613812341235'), pii.token(null)").first()
    assert got[0] == pii.token(PHONE, pii_home)
    assert len(got[0]) == 32 and got[0] != got[1] and got[2] is None
    # keyed: not the plain hash of the number
    assert got[0] != hashlib.sha256(PHONE.encode()).hexdigest()[:32]


def test_encryption_is_deterministic_and_only_the_key_decrypts(spark, pii_home):
    df = spark.createDataFrame([("王伟",), ("王伟",), ("1990-02-03",), (None,)], "v string")
    rows = df.selectExpr("v", "pii.encrypt(v) as e", "pii.decrypt(pii.encrypt(v)) as d").collect()
    assert [r.d for r in rows] == [r.v for r in rows]
    assert rows[0].e == rows[1].e and rows[0].e != rows[2].e and rows[3].e is None
    assert "王伟" not in rows[0].e
    # Spark's aes_decrypt reads it with the key the JVM derives from the secret file
    key = bytearray(hashlib.sha256(secret(pii.ENCRYPTION_KEY, pii_home).encode()).digest())
    plain = (
        spark.range(1)
        .select(F.aes_decrypt(F.unbase64(F.lit(rows[0].e)), F.lit(key), F.lit("GCM")).cast("string"))
        .first()[0]
    )
    assert plain == "王伟"
    wrong = bytearray(hashlib.sha256(b"another key").digest())
    with pytest.raises(Exception, match="(?i)tag mismatch|AES_CRYPTO_ERROR|decrypt"):
        spark.range(1).select(F.aes_decrypt(F.unbase64(F.lit(rows[0].e)), F.lit(wrong), F.lit("GCM"))).collect()


def test_no_key_appears_in_a_plan(spark, pii_home):
    plan = spark.sql(f"select pii.token('{PHONE}') as t, pii.encrypt('{PHONE}') as e")._jdf.queryExecution().toString()
    for name in (pii.TOKEN_KEY, pii.ENCRYPTION_KEY):
        assert secret(name, pii_home) not in plan
    assert "lakehouse.pii" in plan or "applyfunctionexpression" in plan.lower()


def test_a_function_the_catalog_does_not_have_is_an_error(spark):
    with pytest.raises(Exception, match="(?i)UNRESOLVED_ROUTINE|cannot be found|not found"):
        spark.sql("select pii.reveal('x')").collect()


def test_personal_columns_leave_no_statistics_in_the_transaction_log(spark, tmp_path):
    from pyspark.sql import types as T

    from schemas.spark import stats_without
    from spark_jobs import bronze

    fields = [
        T.StructField("customer_id", T.LongType()),
        T.StructField("phone", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("_is_deleted", T.BooleanType()),
    ]
    props = stats_without(fields, ["phone"])
    table = "default.pii_stats_probe"
    spark.sql(f"drop table if exists {table}")
    spark.sql(
        f"create table {table} ({bronze.ddl_columns(fields)}) using delta location '{tmp_path / 't'}' "
        f"tblproperties ({bronze.properties_sql(props)})"
    )
    spark.sql(f"insert into {table} values (1, '13812345678', '杭州', false)")
    log = "".join(p.read_text() for p in (tmp_path / "t" / "_delta_log").glob("*.json"))
    assert "13812345678" not in log and "杭州" in log  # the other columns keep theirs
    # what the table says it has is what is asked: a second ensure changes nothing
    have = {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}
    assert have["delta.dataSkippingStatsColumns"] == props["delta.dataSkippingStatsColumns"]
    spark.sql(f"drop table {table}")
