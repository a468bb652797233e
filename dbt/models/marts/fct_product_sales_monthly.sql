-- Sales by product and month (REQUIREMENTS §3.4.1 "which 5G data pack sells best"): orders,
-- activations, cancellations and activated revenue, ranked within the product's category.

with

orders as (

    select * from {{ ref('fct_orders_merged') }}

),

products as (

    select * from {{ ref('dim_product') }}

),

monthly as (

    select
        orders.order_month as sales_month,
        orders.product_id,
        count(*) as orders,
        count_if(orders.order_status = 'activated') as activated_orders,
        count_if(orders.order_status = 'cancelled') as cancelled_orders,
        count_if(orders.order_status = 'pending_payment') as pending_orders,
        sum(case when orders.order_status = 'activated' then orders.amount else 0 end) as activated_revenue
    from orders
    group by 1, 2

),

final as (

    select
        monthly.sales_month,
        monthly.product_id,
        products.product_code,
        products.product_name,
        products.category,
        monthly.orders,
        monthly.activated_orders,
        monthly.cancelled_orders,
        monthly.pending_orders,
        monthly.activated_revenue,
        rank() over (
            partition by monthly.sales_month, products.category
            order by monthly.activated_orders desc
        ) as rank_in_category
    from monthly
    left join products on monthly.product_id = products.product_id

)

select * from final
