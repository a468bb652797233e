{#- Rows the quality gate quarantined in bronze (expectations/validate.py writes
    <prefix>quality.quarantine) stay out of silver. Before the first validation there is no
    quarantine table and nothing is held back. -#}
{% macro quarantined_keys(table_name) -%}
    {%- set relation = adapter.get_relation(
        database=none,
        schema=env_var('LAKEHOUSE_SCHEMA_PREFIX', '') ~ 'quality',
        identifier='quarantine') -%}
    {%- if relation -%}
    select distinct key_value from {{ relation }} where table_name = '{{ table_name }}'
    {%- else -%}
    select cast(null as string) as key_value where false
    {%- endif -%}
{%- endmacro %}
