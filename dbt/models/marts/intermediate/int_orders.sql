-- Every current order, priced and timed: the rows of gold's order fact, computed on read. Both
-- fct_orders_merged (the changed ones, merged at each refresh) and the fct_orders view (the ones
-- changed since) select from here, so the two cannot drift apart. The list price is the one
-- valid when the order was created: a later price change leaves older orders as they were.

with

orders as (

    select * from {{ ref('stg_bss__orders') }}

),

prices as (

    select * from {{ ref('dim_product_price_history') }}

),

final as (

    select
        orders.order_id,
        orders.user_token as user_id,
        orders.product_id,
        orders.business_type,
        orders.channel,
        orders.status_code,
        orders.order_status,
        orders.is_order_number_valid,
        orders.amount,
        prices.price as list_price,
        orders.amount = prices.price as is_amount_matching_price,
        orders.created_at,
        cast(orders.created_at as date) as order_date,
        {{ month_start('orders.created_at') }} as order_month,
        orders.paid_at,
        orders.activated_at,
        {{ minutes_between('orders.created_at', 'orders.activated_at') }} as minutes_to_activation,
        {{ minutes_between('orders.created_at', 'orders.activated_at') }}
        <= {{ var('activation_target_minutes') }} as is_activated_within_target,
        orders.updated_at,
        orders._applied_at
    from orders
    left join prices
        on
            orders.product_id = prices.product_id
            and orders.created_at >= prices.valid_from
            and (orders.created_at < prices.valid_to or prices.valid_to is null)

)

select * from final
