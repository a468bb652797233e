{#- Values looked up before the statement they go into, and written into it as literals: Delta
    skips files by literal predicates while planning, before any subquery runs (a filter on a
    scalar or IN subquery reads every file). Both return none while dbt parses (no query runs). -#}

{#- The distinct values of `expr` in `from_clause` (a relation, optionally followed by a `where`),
    as strings. -#}
{% macro distinct_values(expr, from_clause) -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set result = run_query('select distinct cast(' ~ expr ~ ' as string) from ' ~ from_clause) -%}
    {{- return(result.columns[0].values() | list) -}}
{%- endmacro %}


{#- The highest value of `expr` in `relation`, as a string (none: an empty table). -#}
{% macro max_value(expr, relation) -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(run_query('select cast(max(' ~ expr ~ ') as string) from ' ~ relation).columns[0].values()[0]) -}}
{%- endmacro %}


{#- `values` (strings without nulls) as a sorted SQL list of literals: `'a', 'b'`, or with
    `type='date'` `date'2026-01-01', ...`; an empty list gives `null` (an IN list needs one item
    and matches nothing with it). -#}
{% macro literal_list(values, type='') -%}
    {%- for v in values | sort -%}{{ type }}'{{ v }}'{%- if not loop.last %}, {% endif -%}{%- else -%}null{%- endfor -%}
{%- endmacro %}
