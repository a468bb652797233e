{#- Gender as one code across systems: M, F or U (unknown, also for empty or unexpected values). -#}
{% macro standard_gender(column) -%}
    case upper(trim({{ column }})) when 'M' then 'M' when 'F' then 'F' else 'U' end
{%- endmacro %}
