"""Gold fingerprints (lakehouse.gold_hashes) are the same for the same rows however they are
stored and summed, and differ when one value does."""

from __future__ import annotations

from lakehouse.gold_hashes import compare, fingerprints


def _query(spark):
    return lambda sql: [tuple(r) for r in spark.sql(sql).collect()]


def test_same_rows_in_other_files_and_order_give_the_same_fingerprint(spark):
    spark.sql("create database if not exists gh_a")
    spark.sql("create database if not exists gh_b")
    rows = spark.range(5000).selectExpr(
        "id as user_key",
        "cast(id % 13 as string) as plan",
        "cast(id as double) / 3 as arpu",
        "map('k', id) as tags",
        "current_timestamp() as _built_at",
        "uuid() as model_version",
    )
    rows.coalesce(1).write.format("delta").mode("overwrite").saveAsTable("gh_a.fct")
    # Other files and order; a float off in its last bits (as a sum in another order is); another
    # build time and model version (not hashed)
    other = rows.selectExpr("user_key", "plan", "arpu + 1e-12 as arpu", "tags", "current_timestamp() as _built_at")
    other.selectExpr("*", "uuid() as model_version").repartition(7).orderBy("plan").write.format("delta").mode(
        "overwrite"
    ).saveAsTable("gh_b.fct")
    a, b = fingerprints("gh_a", _query(spark)), fingerprints("gh_b", _query(spark))
    assert a["fct"]["rows"] == 5000
    assert a["fct"]["columns"] == ["user_key", "plan", "arpu", "tags"]
    assert compare(a, b) == []

    spark.sql("update gh_b.fct set plan = 'x' where user_key = 4321")
    assert compare(a, fingerprints("gh_b", _query(spark))) == ["fct: same 5000 rows count, other contents"]
    spark.sql("delete from gh_b.fct where user_key = 4321")
    assert compare(a, fingerprints("gh_b", _query(spark))) == ["fct: 5000 rows vs 4999"]
    spark.sql("create table gh_b.extra (id bigint) using delta")
    assert "extra: only in the second" in compare(a, fingerprints("gh_b", _query(spark)))
