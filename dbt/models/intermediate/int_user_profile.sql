-- The user's slowly changing profile: who they are, their plan and their value tier. The
-- snapshot snap_user_profile keeps its history (SCD type 2).

with

users as (

    select * from {{ ref('int_users') }}

),

usage as (

    select * from {{ ref('int_user_usage') }}

),

products as (

    select * from {{ ref('stg_bss__products') }}

),

final as (

    select
        users.user_key,
        users.user_id,
        users.customer_id,
        users.subscriber_id,
        users.phone_masked,
        users.phone_encrypted,
        users.full_name_encrypted,
        users.full_name_masked,
        users.gender,
        users.is_gender_consistent,
        users.birth_date_encrypted,
        users.city,
        users.plan_product_id,
        products.product_name as plan_name,
        products.category as plan_category,
        coalesce(products.is_5g_plan, false) as is_5g_plan,
        users.subscriber_status,
        users.subscriber_activated_at,
        users.terminated_at,
        usage.avg_monthly_bill_amount,
        case
            when usage.avg_monthly_bill_amount >= {{ var('value_tier_high_min_monthly_bill') }} then 'high'
            when usage.avg_monthly_bill_amount >= {{ var('value_tier_medium_min_monthly_bill') }} then 'medium'
            when usage.avg_monthly_bill_amount is not null then 'low'
        end as value_tier,
        users.updated_at
    from users
    left join usage on users.user_id = usage.user_id
    left join products on users.plan_product_id = products.product_id

)

select * from final
