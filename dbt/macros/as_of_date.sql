{#- The day the profile is "as of": var('as_of_date') when set, else the latest day with app
    activity (a fixed data set then gives the same answer whatever today is), looked up first
    and written as a literal: Delta prunes the date partitions a literal bounds (the 30-day
    windows read 30 days, not the whole history); a scalar subquery would read them all. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date') -%}
        date'{{ var("as_of_date") }}'
    {%- else -%}
        {%- set daily = ref('fct_app_activity_daily') -%}
        {%- set latest = max_value('activity_date', daily) if execute and load_relation(daily) is not none else none -%}
        {%- if latest -%}
            date'{{ latest }}'
        {%- else -%}
            (select max(activity_date) from {{ daily }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- ` and <column> < the day after the as-of date` when the day is given (var as_of_date: the
    daily schedule and its backfills), so a past day counts only the orders and tickets it had;
    empty otherwise (the full build counts every one). -#}
{% macro before_end_of_as_of(column) -%}
    {%- if var('as_of_date') %} and {{ column }} < date_add({{ as_of_date() }}, 1){% endif -%}
{%- endmacro %}
