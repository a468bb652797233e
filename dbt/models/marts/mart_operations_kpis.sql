-- The operations centre's KPI board (REQUIREMENTS §3.4.1), one row per KPI as of the profile
-- date, with its target where the operator set one. Order and ticket KPIs cover every order
-- and ticket in the data; shares are over the orders / tickets that reached the stage.

with

as_of as (

    select {{ as_of_date() }} as as_of_date

),

orders as (

    select * from {{ ref('fct_orders') }}
    where activated_at is not null

),

tickets as (

    select * from {{ ref('fct_service_tickets') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

-- weekly retention: of the users who logged in during the week before last, the share who
-- logged in during the last 7 days
logins as (

    select
        daily.user_key,
        max(case when daily.activity_date between date_sub(as_of.as_of_date, 13) and date_sub(as_of.as_of_date, 7)
            then 1 else 0 end) as in_previous_week,
        max(case when daily.activity_date between date_sub(as_of.as_of_date, 6) and as_of.as_of_date
            then 1 else 0 end) as in_last_week
    from {{ ref('fct_app_activity_daily') }} as daily
    cross join as_of
    where daily.logins > 0 and daily.user_key <> 'unidentified'
    group by daily.user_key

),

kpis as (

    select 'weekly_retention_rate' as kpi, 'share' as unit,
        sum(in_previous_week * in_last_week) / nullif(sum(in_previous_week), 0) as kpi_value,
        cast(null as double) as target
    from logins
    union all
    select 'order_to_activation_p50_minutes', 'minutes', percentile(minutes_to_activation, 0.5), null from orders
    union all
    select 'order_to_activation_p95_minutes', 'minutes', percentile(minutes_to_activation, 0.95), null from orders
    union all
    select 'activated_within_2h_share', 'share', avg(case when is_activated_within_target then 1D else 0D end), null
    from orders
    union all
    select 'ticket_accept_p50_minutes', 'minutes', percentile(minutes_to_accept, 0.5), {{ var('sla_accept_minutes') }}
    from tickets
    union all
    select 'ticket_network_check_p50_minutes', 'minutes', percentile(minutes_to_network_check, 0.5),
        {{ var('sla_network_check_minutes') }}
    from tickets
    union all
    select 'ticket_answer_p50_minutes', 'minutes', percentile(minutes_to_answer, 0.5), {{ var('sla_answer_minutes') }}
    from tickets
    union all
    select 'ticket_resolve_p50_minutes', 'minutes', percentile(minutes_to_resolve, 0.5), null from tickets
    union all
    select 'ticket_accept_within_sla_share', 'share',
        avg(case when is_accept_within_sla then 1D when minutes_to_accept is not null then 0D end), null
    from tickets
    union all
    select 'ticket_network_check_within_sla_share', 'share',
        avg(case when is_network_check_within_sla then 1D when minutes_to_network_check is not null then 0D end), null
    from tickets
    union all
    select 'ticket_answer_within_sla_share', 'share',
        avg(case when is_answer_within_sla then 1D when minutes_to_answer is not null then 0D end), null
    from tickets
    union all
    select 'avg_satisfaction', 'score 1-5', avg(satisfaction_score), null from tickets
    union all
    select 'five_g_user_share', 'share', avg(case when is_5g_plan then 1D else 0D end), null
    from users
    where subscriber_status = 'active'
    union all
    select 'at_risk_user_share', 'share', avg(case when is_at_risk then 1D else 0D end), null
    from users
    where last_login_date is not null

)

select
    as_of.as_of_date,
    kpis.kpi,
    cast(kpis.kpi_value as double) as kpi_value,
    kpis.unit,
    kpis.target,
    case when kpis.target is not null then kpis.kpi_value <= kpis.target end as meets_target
from kpis
cross join as_of
