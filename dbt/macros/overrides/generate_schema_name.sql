{#- Overrides dbt's `generate_schema_name` (dbt-core's default__generate_schema_name: a custom
    schema is appended to the target schema, `silver_gold`), the override dbt documents.

    Why: the layers are schemas of their own (silver, gold), not suffixes of the target schema,
    and a whole build can sit beside the real one (tests, benchmarks).

    Switched on for every node (dbt calls it whenever it names a schema); the `+schema` config
    in dbt_project.yml gives the layer, the environment variable LAKEHOUSE_SCHEMA_PREFIX (empty
    by default) the prefix: `kat_gold` with LAKEHOUSE_SCHEMA_PREFIX=kat_. Documented in
    macros/_macros.yml.

    Guarded by tests/integration/test_gold_known_answers.py, which builds the project with the
    prefix kat_ (and katfull_) and reads every result from kat_silver / kat_gold. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ env_var('LAKEHOUSE_SCHEMA_PREFIX', '') }}{{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
