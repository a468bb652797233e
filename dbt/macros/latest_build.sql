{#- When this dbt invocation started, as a timestamp literal: the incremental facts stamp the rows
    each build writes (`_built_at`), so the data tests can check only those (see below). -#}
{% macro build_started_at() -%}
    timestamp'{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
{%- endmacro %}


{#- dbt's test filter (the `where` config), plus one placeholder: `__latest_build__` becomes "the
    rows the latest build wrote" (`_built_at` equal to the table's highest, as a literal, so Delta
    reads only the files that build wrote). A full build stamps every row, so it tests them all;
    an incremental one tests the rows it merged, which is what it could have got wrong: the
    MERGE on the unique key keeps the older rows' keys unique. Looked up when the test runs,
    so a separate `dbt test` after `dbt run` (as Cosmos runs them) tests the same rows. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if '__latest_build__' in where -%}
        {%- set built = max_value('_built_at', relation) -%}
        {#- an empty table has no latest build: the test has nothing to check -#}
        {%- set where = where | replace('__latest_build__', "_built_at = timestamp'" ~ built ~ "'" if built else 'false') -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
