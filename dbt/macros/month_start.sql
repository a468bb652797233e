{#- The first day of the month of a timestamp, as a date: one definition for fct_orders_merged' partition
    column and for its delete pre-hook's lookup of the months the deleted rows live in (if the
    two differed, the pre-hook would prune to the wrong partitions and miss the rows). -#}
{% macro month_start(timestamp) -%}
    make_date(year({{ timestamp }}), month({{ timestamp }}), 1)
{%- endmacro %}
