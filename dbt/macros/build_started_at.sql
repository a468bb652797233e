{#- When this dbt invocation started, as a timestamp literal: the incremental facts stamp the rows
    each build writes (`_built_at`), so their data tests can check only those (the
    `__latest_build__` token of a test's `where`, see overrides/get_where_subquery.sql). -#}
{% macro build_started_at() -%}
    timestamp'{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
{%- endmacro %}
