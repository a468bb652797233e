"""The bronze gate's row rules as the dbt macro the fct_orders view filters with."""

from __future__ import annotations

from expectations import dbt_rules


def test_the_generated_macro_is_what_the_contracts_give():
    assert dbt_rules.main(["--check"]) == 0, "run: python -m expectations.dbt_rules"


def test_a_row_fails_on_the_rules_that_hold_a_single_row_back_and_no_others():
    sql = dbt_rules.row_fails_sql("bss.orders")
    assert "(order_id is not null and not order_id rlike '^(MOB|BRD|IPT|VAS)[0-9]{8}[0-9]{6}$')" in sql  # quarantine
    assert "(amount is null)" in sql  # required: a critical stop rule every row must pass
    assert "phone" not in sql  # not_null at a 98 % threshold: one row with none is allowed
    assert "channel not in" not in sql  # allowed values: a recorded warning
    assert "_key_copy" not in sql  # uniqueness is over many rows


def test_a_stale_macro_is_reported(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "bronze_row_fails.sql"
    stale.write_text(dbt_rules.render().replace("amount is null", "amount is not null"))
    monkeypatch.setattr(dbt_rules, "MACRO_PATH", stale)
    assert dbt_rules.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
