{#- Pre-hook of an incremental model fed by a CDC current-state table: remove the rows deleted at
    the source since the last run (the merge strategy has no delete branch). A MERGE, because
    Delta's DELETE takes no subquery. With `partition_column` (the model's partition column) and
    `partition_expr` (how the source row gives its value), the partitions the deleted rows live
    in are looked up first and written as literals, so the MERGE reads only those. -#}
{% macro delete_rows_deleted_at_source(source_relation, key, partition_column=none, partition_expr=none) -%}
    {%- if is_incremental() -%}
    {%- set deleted_since = source_relation ~ ' where _is_deleted and _applied_at > ' ~ watermark('_applied_at') -%}
    {%- set partitions = distinct_values(partition_expr, deleted_since) if partition_column else none -%}
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


{#- dbt-spark's MERGE, plus the target's partitions the source touches as literal predicates when
    the model sets `merge_prune_on` (its partition column): Delta then reads only those
    partitions' files to find the matches, not the whole table; no MERGE when the source is
    empty. -#}
{% macro spark__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set predicates = [] + (incremental_predicates or []) -%}
    {%- set prune_on = config.get('merge_prune_on') -%}
    {%- set touched = distinct_values(prune_on, source) if prune_on else none -%}
    {%- if touched is not none -%}
        {%- if touched | length == 0 -%}
            {#- an empty source: a MERGE would still scan the whole target (ON FALSE) -#}
            {{- return('select 0 as merged_rows /* ' ~ source ~ ' is empty: nothing to merge */') -}}
        {%- elif none not in touched -%}
            {#- (a null partition value: no pruning, an IN list would miss the null partition) -#}
            {%- do predicates.append('DBT_INTERNAL_DEST.' ~ prune_on ~ ' in (' ~ literal_list(touched) ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
    {{ dbt.spark__get_merge_sql(target, source, unique_key, dest_columns, predicates) }}
{%- endmacro %}
