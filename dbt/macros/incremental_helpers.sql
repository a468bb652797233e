{#- Helpers of the incremental facts. Their MERGE (pruned to the partitions the source touches,
    the `merge_prune_on` config) is dbt-spark's, overridden in overrides/spark__get_merge_sql.sql. -#}


{#- Pre-hook of an incremental model fed by a CDC current-state table: remove the rows deleted at
    the source since the last run (the merge strategy has no delete branch). A MERGE, because
    Delta's DELETE takes no subquery. With `partition_column` (the model's partition column) and
    `partition_expr` (how the source row gives its value), the partitions the deleted rows live
    in are looked up first and written as literals, so the MERGE reads only those. -#}
{% macro delete_rows_deleted_at_source(source_relation, key, partition_column=none, partition_expr=none) -%}
    {%- if is_incremental() -%}
    {#- the deleted keys, read from the source once and cached for the session (the lookup and
        both of the MERGE's passes read them); uncached by uncache_merge_input -#}
    {%- set deleted_since = this.identifier ~ '__deleted' -%}
    {%- if execute -%}
        {%- do run_query(
            'cache table ' ~ deleted_since ~ ' as select ' ~ key
            ~ (', ' ~ partition_expr ~ ' as _partition' if partition_column else '')
            ~ ' from ' ~ source_relation ~ ' where _is_deleted and _applied_at > ' ~ watermark('_applied_at')
        ) -%}
    {%- endif -%}
    {%- set partitions = distinct_values('_partition', deleted_since) if partition_column else none -%}
    {%- if partitions is not none and partitions | length == 0 -%}
    select 0 as deleted_rows /* nothing deleted at the source since the last run */
    {%- else -%}
    merge into {{ this }} as target
    using (select {{ key }} from {{ deleted_since }}) as deleted
    on target.{{ key }} = deleted.{{ key }}
    {#- (a null partition value: not pruned, an IN list would miss it) #}
    {%- if partitions and none not in partitions %}
        and target.{{ partition_column }} in ({{ literal_list(partitions) }})
    {%- endif %}
    when matched then delete
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The rows of `cte` to aggregate in an incremental run: every row of each group (`keys`) that
    received rows loaded after the model's watermark (`last_ingested_at`), so a group is always
    recomputed whole (late rows included). `date_column` is a bronze partition column of
    `relation` (the staging model under `cte`), one of the keys or derived from them: the dates
    that received rows are looked up first and written into the query as literals, so every
    read of the source is limited to those dates' partitions. -#}
{% macro rows_of_touched_groups(cte, keys, date_column, relation) -%}
    {%- set since = watermark('last_ingested_at') -%}
    {%- set dates = distinct_values(date_column, relation ~ ' where _ingested_at > ' ~ since) or [] -%}
    {%- set in_touched_dates -%}
        {{ date_column }} in ({{ literal_list(dates, 'date') }})
    {%- endset %}
    with touched as (
        select distinct {{ (keys + [date_column]) | unique | join(', ') }}
        from {{ cte }}
        where {{ in_touched_dates }} and _ingested_at > {{ since }}
    )
    select {{ cte }}.*
    from {{ cte }}
    inner join touched on {% for k in keys %}{{ cte }}.{{ k }} = touched.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
    where {{ cte }}.{{ in_touched_dates }}
{%- endmacro %}


{#- The highest value of `column` in the model's own table, as a timestamp literal. A filter on a
    literal lets Delta skip every file whose statistics end below it; a scalar subquery would
    not (files are chosen while planning, before subqueries run), so each incremental run read
    the whole source. An empty table gives the earliest time (everything is new). -#}
{% macro watermark(column) -%}
    timestamp'{{ max_value(column, this) or "1900-01-01 00:00:00" }}'
{%- endmacro %}


{#- Post-hook of the incremental models (dbt_project.yml, one per `suffix`): drop a cached input
    of the MERGE from the session once merged: `__dbt_tmp`, the source (see
    overrides/spark__get_merge_sql.sql), and `__deleted`, the deleted keys. -#}
{% macro uncache_merge_input(suffix) -%}
    {%- if is_incremental() -%}
    uncache table if exists {{ this.identifier }}{{ suffix }}
    {%- endif -%}
{%- endmacro %}
