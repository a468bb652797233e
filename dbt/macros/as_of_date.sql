{#- The day the profile is "as of": var('as_of_date') when set, else the latest day with app
    activity (a fixed data set then gives the same answer whatever today is). -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date') -%}
        date'{{ var("as_of_date") }}'
    {%- else -%}
        (select max(activity_date) from {{ ref('fct_app_activity_daily') }})
    {%- endif -%}
{%- endmacro %}
