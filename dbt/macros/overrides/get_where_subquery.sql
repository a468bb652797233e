{#- Overrides dbt's `get_where_subquery` (dbt-core's global macro, default__get_where_subquery):
    how a data test applies its `where` config to the relation it tests.

    Why: the incremental facts' row-level data tests (not null, accepted values, relationships)
    should check the rows the latest build wrote, not the whole table: an incremental build could
    only have got the merged rows wrong. Key uniqueness is not one of them: it is tested over the
    whole table, since a re-inserted old key is a duplicate the latest build's rows cannot show.
    Same behaviour as dbt's for every other `where`.

    Switched on by the token `__latest_build__` in a test's `where` config (the data tests of
    fct_orders_merged, fct_service_tickets, fct_cell_kpi_hourly, fct_app_activity_daily): it becomes
    `_built_at = timestamp'<the table's highest _built_at>'` (a literal, so Delta reads only the
    files that build wrote; `false` for an empty table). A full build stamps every row, so its
    tests check them all. Looked up when the test runs, so a separate `dbt test` after
    `dbt run` (as Cosmos runs them) tests the same rows. Documented in macros/_macros.yml.

    Guarded by tests/integration/test_gold_known_answers.py:
    test_incremental_build_after_a_change_equals_a_full_rebuild_and_the_snapshot_keeps_history
    (the compiled not_null_fct_orders_merged_order_id reads `where _built_at = timestamp'<latest>'`, and
    the merged rows are neither none nor all) and
    test_dbt_build_passes_and_warns_only_about_the_planted_orphan_orders (after a full build the
    tests count every planted orphan order). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if '__latest_build__' in where -%}
        {%- set built = max_value('_built_at', relation) -%}
        {#- an empty table has no latest build: the test has nothing to check -#}
        {%- set latest_build = "_built_at = timestamp'" ~ built ~ "'" if built else 'false' -%}
        {%- set where = where | replace('__latest_build__', latest_build) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
