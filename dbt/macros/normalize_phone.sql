{#- A Chinese mobile number in E.164 (+86 and 11 digits) from the formats the sources use:
    spaces, dashes, a +86 / 0086 / 86 prefix. Anything else is null, for the quality rules. -#}
{% macro normalize_phone(column) -%}
    case
        when regexp_replace({{ column }}, '[^0-9]', '') rlike '^(0086|86)?1[3-9][0-9]{9}$'
            then concat('+86', right(regexp_replace({{ column }}, '[^0-9]', ''), 11))
    end
{%- endmacro %}
