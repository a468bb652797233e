{#- Pre-hook of an incremental model fed by a CDC current-state table: remove the rows deleted at
    the source since the last run (the merge strategy has no delete branch). A MERGE, because
    Delta's DELETE takes no subquery. -#}
{% macro delete_rows_deleted_at_source(source_relation, key) -%}
    {%- if is_incremental() -%}
    merge into {{ this }} as target
    using (
        select {{ key }} from {{ source_relation }}
        where _is_deleted and _applied_at > (select max(_applied_at) from {{ this }})
    ) as deleted
    on target.{{ key }} = deleted.{{ key }}
    when matched then delete
    {%- endif -%}
{%- endmacro %}


{#- The rows of `cte` to aggregate in an incremental run: every row of each group (`keys`) that
    received rows loaded after the model's watermark (`last_ingested_at`), so a group is always
    recomputed whole (late rows included); `date_column` (a bronze partition column, one of the
    keys or derived from them) limits the read to the touched dates' partitions. -#}
{% macro rows_of_touched_groups(cte, keys, date_column) -%}
    with touched as (
        select distinct {{ (keys + [date_column]) | unique | join(', ') }}
        from {{ cte }}
        where _ingested_at > (select max(last_ingested_at) from {{ this }})
    )
    select {{ cte }}.*
    from {{ cte }}
    inner join touched on {% for k in keys %}{{ cte }}.{{ k }} = touched.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    where {{ cte }}.{{ date_column }} in (select {{ date_column }} from touched)
{%- endmacro %}
