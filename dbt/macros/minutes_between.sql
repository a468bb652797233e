{#- Minutes from one timestamp to another, with seconds as a fraction; null if either is null. -#}
{% macro minutes_between(start_ts, end_ts) -%}
    cast((unix_micros({{ end_ts }}) - unix_micros({{ start_ts }})) / 60000000.0 as double)
{%- endmacro %}
