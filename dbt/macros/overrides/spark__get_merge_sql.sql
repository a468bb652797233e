{#- Overrides dbt-spark's `spark__get_merge_sql` (the MERGE statement of the incremental `merge`
    strategy), and calls it: dbt.spark__get_merge_sql with one more incremental predicate.

    Why: without it, Delta reads the whole target table to find the MERGE's matches. With the
    target's partitions that the source touches as literal predicates, it reads only those
    partitions' files; an empty source gives no MERGE at all (it would still scan the whole
    target, ON FALSE). A null partition value in the source: no pruning (an IN list would miss
    the null partition). The source is cached first (`cache table`): it is read up to three times.

    Switched on by the model config `merge_prune_on: <the model's partition column>` (a custom
    config key, set by fct_orders_merged, fct_cell_kpi_hourly, fct_app_activity_daily); without it the
    MERGE is dbt-spark's, unchanged. Documented in macros/_macros.yml.

    Guarded by tests/integration/test_gold_known_answers.py:
    test_incremental_build_after_a_change_equals_a_full_rebuild_and_the_snapshot_keeps_history
    (after a change, the incremental build's gold tables equal a full rebuild's, row for row). -#}
{% macro spark__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {#- The source (the model's query over the changed rows) is computed once, here, and cached
        for the session: the partition lookup and both of the MERGE's passes read it, where each
        evaluated the merge-on-read bronze view again. Uncached by uncache_merge_input. The cache
        did not hold the rows still in the soak (most likely a write to a table under it, the
        capture service's apply, recomputes it), so a source over a table written meanwhile
        must bound itself (fct_orders_merged: an upper `_applied_at` read first), or a row of a month
        the lookup missed is inserted. -#}
    {%- if execute -%}{%- do run_query('cache table ' ~ source) -%}{%- endif -%}
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
