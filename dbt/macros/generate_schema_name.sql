{#- Layers are schemas of their own (silver, gold), not suffixes of the target schema.
    LAKEHOUSE_SCHEMA_PREFIX puts a whole build beside the real one (tests, benchmarks). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ env_var('LAKEHOUSE_SCHEMA_PREFIX', '') }}{{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
