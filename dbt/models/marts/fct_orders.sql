-- One row per order: the unified status, the list price it must match (the one valid when the
-- order was created), and order-to-activation minutes against the 2-hour target. A view, fresh
-- within seconds of the source: the orders as of the latest refresh (fct_orders_merged, checked
-- by the data tests and the quality gates), with every order the CDC apply changed since then
-- read from bronze through the same transformation (int_orders) in their place: an update shows
-- its new version, a delete hides the order, a new order appears. A changed row the bronze gate
-- would hold back (its row rules: the bronze_row_fails macro, generated from the contracts)
-- leaves the merged version in place, as the refresh will. `_built_at` is null on the rows read
-- from bronze.

{{ config(materialized='view') }}

with

merged as (

    select * from {{ ref('fct_orders_merged') }}

),

merged_until as (

    select coalesce(max(_applied_at), timestamp '1900-01-01') as applied_at
    from merged

),

changed as (

    {#- every order the source changed since the merged table's newest row: what the next refresh
        merges (its watermark is the same max) -#}
    select
        orders.order_id,
        orders._is_deleted,
        orders._is_deleted or {{ bronze_row_fails('bss.orders') }} as is_held_back
    from {{ source('bss', 'bss_orders') }} as orders
    inner join merged_until
        on orders._applied_at > merged_until.applied_at

),

replaced as (

    select order_id
    from changed
    where _is_deleted or not is_held_back

),

unbuilt as (

    select
        int_orders.*,
        cast(null as timestamp) as _built_at
    from {{ ref('int_orders') }} as int_orders
    left semi join changed
        on
            int_orders.order_id = changed.order_id
            and not changed.is_held_back

)

-- the columns: int_orders' and _built_at, listed once, in int_orders.sql
select merged.*  -- noqa: AM04
from merged
left anti join replaced on merged.order_id = replaced.order_id

union all

select * from unbuilt
