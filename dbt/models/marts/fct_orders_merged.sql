-- gold.fct_orders as of the latest refresh, the table behind the fct_orders view: one row per
-- order, merged at each refresh with the orders the CDC apply has changed since the last one, the
-- ones deleted at the source removed (see the delete_rows_deleted_at_source macro). This is
-- what the data tests and the gold quality gate check, and what the other marts read.
-- Partitioned by the order's month: a change is merged into the months it touches, in a task per
-- file, not into one file holding every order. The month never changes: created_at is the
-- order's own (its number carries the creation date).

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_id',
        partition_by=['order_month'],
        merge_prune_on='order_month',
        pre_hook="{{ delete_rows_deleted_at_source(source('bss', 'bss_orders'), 'order_id',
                                                   'order_month', month_start('created_at')) }}",
    )
}}

-- the columns: int_orders' (listed there, for this table and the fct_orders view) and _built_at
select
    *,  -- noqa: AM04
    {{ build_started_at() }} as _built_at
from {{ ref('int_orders') }}
{% if is_incremental() %}
    {#- up to the newest row applied when the run began: the apply goes on meanwhile, and a row
        may leave this set between the MERGE's partition lookup and the MERGE, never join it -#}
    {%- set applied_until = max_value('_applied_at', source('bss', 'bss_orders')) or '1900-01-01' %}
    where
        _applied_at > {{ watermark('_applied_at') }}
        and _applied_at <= timestamp'{{ applied_until }}'
{% endif %}
