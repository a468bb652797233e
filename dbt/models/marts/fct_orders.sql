-- One row per order: the unified status, the list price it must match, and order-to-activation
-- minutes against the 2-hour target. Incremental: each run merges the orders the CDC apply has
-- changed since the last run, and removes the ones deleted at the source (see the
-- delete_rows_deleted_at_source macro). Partitioned by the order's month: a change is merged
-- into the months it touches, in a task per file, not into one file holding every order. The
-- month never changes: created_at is the order's own (its number carries the creation date).

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

with

orders as (

    select * from {{ ref('stg_bss__orders') }}
    {% if is_incremental() %}
        {#- up to the newest row applied when the run began: the apply goes on meanwhile, and a row
            may leave this set between the MERGE's partition lookup and the MERGE, never join it -#}
        {%- set applied_until = max_value('_applied_at', source('bss', 'bss_orders')) or '1900-01-01' %}
        where
            _applied_at > {{ watermark('_applied_at') }}
            and _applied_at <= timestamp'{{ applied_until }}'
    {% endif %}

),

products as (

    select
        product_id,
        price
    from {{ ref('stg_bss__products') }}

),

final as (

    select
        orders.order_id,
        orders.phone_e164 as user_id,
        orders.product_id,
        orders.business_type,
        orders.channel,
        orders.status_code,
        orders.order_status,
        orders.is_order_number_valid,
        orders.amount,
        products.price as list_price,
        orders.amount = products.price as is_amount_matching_price,
        orders.created_at,
        cast(orders.created_at as date) as order_date,
        {{ month_start('orders.created_at') }} as order_month,
        orders.paid_at,
        orders.activated_at,
        {{ minutes_between('orders.created_at', 'orders.activated_at') }} as minutes_to_activation,
        {{ minutes_between('orders.created_at', 'orders.activated_at') }}
        <= {{ var('activation_target_minutes') }} as is_activated_within_target,
        orders.updated_at,
        orders._applied_at,
        {{ build_started_at() }} as _built_at
    from orders
    left join products on orders.product_id = products.product_id

)

select * from final
