-- The operations centre's KPI board (REQUIREMENTS §3.4.1), one row per KPI as of the profile
-- date, with its target where the operator set one. Order and ticket KPIs cover every order
-- and ticket in the data; shares are over the orders / tickets that reached the stage.

{%- set as_of = as_of_date() %}

with

as_of as (

    select {{ as_of }} as as_of_date

),

orders as (

    select * from {{ ref('fct_orders_merged') }}
    where activated_at is not null{{ before_end_of_as_of('created_at') }}

),

tickets as (

    select * from {{ ref('fct_service_tickets') }}
    where true{{ before_end_of_as_of('opened_at') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

-- weekly retention: of the users who logged in during the week before last, the share who
-- logged in during the last 7 days
logins as (

    select
        daily.user_key,
        max(case
            when daily.activity_date between date_sub(as_of.as_of_date, 13) and date_sub(as_of.as_of_date, 7)
                then 1
            else 0
        end) as in_previous_week,
        max(case
            when daily.activity_date between date_sub(as_of.as_of_date, 6) and as_of.as_of_date
                then 1
            else 0
        end) as in_last_week
    from {{ ref('fct_app_activity_daily') }} as daily
    cross join as_of
    where
        daily.logins > 0 and daily.user_key <> 'unidentified'
        -- the two weeks as literals: only their partitions are read
        and daily.activity_date between date_sub({{ as_of }}, 13) and {{ as_of }}
    group by daily.user_key

),

-- one pass over each fact, then one row per KPI
order_figures as (

    select
        activation_percentiles[0] as activation_p50,
        activation_percentiles[1] as activation_p95,
        activated_within_2h
    from (
        select
            -- both in one aggregate: an exact percentile keeps a count per distinct value, and
            -- two of them over a million orders cost twice
            percentile(minutes_to_activation, array(0.5, 0.95)) as activation_percentiles,
            avg(case when is_activated_within_target then 1D else 0D end) as activated_within_2h
        from orders
    ) as figures

),

ticket_figures as (

    select
        percentile(minutes_to_accept, 0.5) as accept_p50,
        percentile(minutes_to_network_check, 0.5) as network_check_p50,
        percentile(minutes_to_answer, 0.5) as answer_p50,
        percentile(minutes_to_resolve, 0.5) as resolve_p50,
        avg(case when is_accept_within_sla then 1D when minutes_to_accept is not null then 0D end) as accept_within_sla,
        avg(case when is_network_check_within_sla then 1D when minutes_to_network_check is not null then 0D end)
            as network_check_within_sla,
        avg(case when is_answer_within_sla then 1D when minutes_to_answer is not null then 0D end) as answer_within_sla,
        avg(satisfaction_score) as satisfaction
    from tickets

),

user_figures as (

    select
        avg(case when subscriber_status = 'active' then (case when is_5g_plan then 1D else 0D end) end) as five_g_share,
        avg(case when last_login_date is not null then (case when is_at_risk then 1D else 0D end) end) as at_risk_share
    from users

),

retention as (

    select sum(in_previous_week * in_last_week) / nullif(sum(in_previous_week), 0) as weekly_retention
    from logins

),

kpis as (

    select
        stack(
            14,
            'weekly_retention_rate', 'share', retention.weekly_retention, cast(null as double),
            'order_to_activation_p50_minutes', 'minutes', order_figures.activation_p50, null,
            'order_to_activation_p95_minutes', 'minutes', order_figures.activation_p95, null,
            'activated_within_2h_share', 'share', order_figures.activated_within_2h, null,
            'ticket_accept_p50_minutes', 'minutes', ticket_figures.accept_p50,
            cast({{ var('sla_accept_minutes') }} as double),
            'ticket_network_check_p50_minutes', 'minutes', ticket_figures.network_check_p50,
            cast({{ var('sla_network_check_minutes') }} as double),
            'ticket_answer_p50_minutes', 'minutes', ticket_figures.answer_p50,
            cast({{ var('sla_answer_minutes') }} as double),
            'ticket_resolve_p50_minutes', 'minutes', ticket_figures.resolve_p50, null,
            'ticket_accept_within_sla_share', 'share', ticket_figures.accept_within_sla, null,
            'ticket_network_check_within_sla_share', 'share', ticket_figures.network_check_within_sla, null,
            'ticket_answer_within_sla_share', 'share', ticket_figures.answer_within_sla, null,
            'avg_satisfaction', 'score 1-5', ticket_figures.satisfaction, null,
            'five_g_user_share', 'share', user_figures.five_g_share, null,
            'at_risk_user_share', 'share', user_figures.at_risk_share, null
        ) as (kpi, unit, kpi_value, target)
    from retention
    cross join order_figures
    cross join ticket_figures
    cross join user_figures

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
