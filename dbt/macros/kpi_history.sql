{#- A KPI's first value in the daily KPI history (fct_operations_kpis_history) before a day, as a
    scalar subquery; null while the history has none or does not exist yet. Looked up without
    ref(): the history is built from the board that asks, and a ref would be a cycle. -#}
{% macro first_kpi_value_in_history(kpi, before) -%}
    {%- set node = (graph.nodes.values() | selectattr('name', 'equalto', 'fct_operations_kpis_history') | first)
        if execute else none -%}
    {%- set history = adapter.get_relation(node.database, node.schema, node.alias) if node else none -%}
    {%- if history -%}
        (
            select min_by(kpi_value, as_of_date) from {{ history }}
            where kpi = '{{ kpi }}' and kpi_value is not null and as_of_date < {{ before }}
        )
    {%- else -%}
        cast(null as double)
    {%- endif -%}
{%- endmacro %}


{#- The targets of var kpi_targets as rows (kpi, direction, target): a VALUES list; a KPI whose
    target is worked out on the board (the 5G share's uplift) has a null one here. -#}
{% macro kpi_targets() -%}
    select * from values
    {%- for kpi, target in var('kpi_targets').items() %}
        ('{{ kpi }}', '{{ target.direction }}', cast({{ target.get('target', 'null') }} as double))
        {{- ',' if not loop.last }}
    {%- endfor %}
    as targets (kpi, direction, target)
{%- endmacro %}
