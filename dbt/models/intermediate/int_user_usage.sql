-- Per user: the latest month's data use and bill, and the monthly averages the value tier uses.

with

usage as (

    select * from {{ ref('stg_bss__monthly_usage') }}
    where user_token is not null

),

ranked as (

    select
        *,
        row_number() over (partition by user_token order by bill_month desc) as recency
    from usage

),

per_user as (

    select
        user_token as user_id,
        count(*) as billed_months,
        max(bill_month) as latest_bill_month,
        max(case when recency = 1 then data_gb end) as latest_month_data_gb,
        max(case when recency = 1 then bill_amount end) as latest_month_bill_amount,
        cast(avg(data_gb) as decimal(10, 3)) as avg_monthly_data_gb,
        cast(avg(bill_amount) as decimal(10, 2)) as avg_monthly_bill_amount,
        cast(avg(call_minutes) as decimal(10, 1)) as avg_monthly_call_minutes
    from ranked
    group by user_token

)

select * from per_user
