-- The 360° view of a user (REQUIREMENTS §3.1): who they are, their plan and bill, how much data
-- they use, how they use the app, what they bought and complained about, and their value tier.
-- One row per user_key (see int_users); the analyses and segments start here.

with

profile as (

    select * from {{ ref('int_user_profile') }}

),

usage as (

    select * from {{ ref('int_user_usage') }}

),

activity as (

    select * from {{ ref('int_user_app_activity') }}

),

orders as (

    select
        orders.user_id,
        count(*) as orders,
        count_if(orders.order_status = 'activated') as activated_orders,
        sum(case when orders.order_status = 'activated' then orders.amount else 0 end) as activated_spend,
        max(orders.created_at) as last_order_at,
        count_if(orders.order_status = 'activated' and products.category = 'data_pack') > 0 as has_data_pack,
        count_if(
            orders.order_status = 'activated' and products.category = 'video_membership'
        ) > 0 as has_video_membership,
        count_if(orders.order_status = 'activated' and products.category = 'broadband') > 0 as has_broadband,
        count_if(orders.order_status = 'activated' and products.category = 'smart_home') > 0 as has_smart_home
    from {{ ref('fct_orders_merged') }} as orders
    left join {{ ref('dim_product') }} as products on orders.product_id = products.product_id
    where orders.user_id is not null{{ before_end_of_as_of('orders.created_at') }}
    group by orders.user_id

),

complaints as (

    select
        user_key,
        count(*) as complaints,
        count_if(not is_resolved) as open_complaints,
        avg(satisfaction_score) as avg_satisfaction
    from {{ ref('fct_service_tickets') }}
    where true{{ before_end_of_as_of('opened_at') }}
    group by user_key

),

as_of as (

    select {{ as_of_date() }} as as_of_date

),

final as (

    select
        profile.user_key,
        profile.user_id,
        profile.customer_id,
        profile.subscriber_id,
        profile.phone_masked,
        profile.full_name_masked,
        profile.gender,
        profile.is_gender_consistent,
        -- the birth date stays encrypted in silver: gold has the age only
        cast(floor(months_between(
            as_of.as_of_date, cast({{ pii_decrypt('profile.birth_date_encrypted') }} as date)
        ) / 12) as int) as age,
        profile.city,
        profile.plan_product_id,
        profile.plan_name,
        profile.plan_category,
        profile.is_5g_plan,
        profile.subscriber_status,
        profile.subscriber_activated_at,
        profile.terminated_at,
        usage.latest_bill_month,
        usage.latest_month_data_gb,
        usage.avg_monthly_data_gb,
        usage.avg_monthly_bill_amount,
        profile.value_tier,
        activity.last_login_date,
        activity.days_since_last_login,
        coalesce(activity.active_days_30d, 0) as app_active_days_30d,
        coalesce(activity.video_plays_30d, 0) as video_plays_30d,
        coalesce(activity.is_at_risk, false) as is_at_risk,
        coalesce(orders.orders, 0) as orders,
        coalesce(orders.activated_orders, 0) as activated_orders,
        coalesce(orders.activated_spend, 0) as activated_spend,
        orders.last_order_at,
        coalesce(orders.has_data_pack, false) as has_data_pack,
        coalesce(orders.has_video_membership, false) as has_video_membership,
        coalesce(orders.has_broadband, false) as has_broadband,
        coalesce(orders.has_smart_home, false) as has_smart_home,
        coalesce(complaints.complaints, 0) as complaints,
        coalesce(complaints.open_complaints, 0) as open_complaints,
        complaints.avg_satisfaction,
        as_of.as_of_date,
        profile.updated_at
    from profile
    cross join as_of
    left join usage on profile.user_id = usage.user_id
    left join activity on profile.user_key = activity.user_key
    left join orders on profile.user_id = orders.user_id
    left join complaints on profile.user_key = complaints.user_key

)

select * from final
