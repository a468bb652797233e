-- The operations centre's KPI board (REQUIREMENTS "Uses of the data", KPI monitoring) as of the
-- profile date: each KPI over that day and over its month to date, with its target and whether
-- the value meets it (var kpi_targets; a KPI without one is for information). Flows count what
-- the period saw: orders activated and tickets opened in it, accounts open at its start; stocks
-- (5G share, app-login retention, at-risk share) are taken at its end. Periods are UTC days, as
-- the daily schedule's; app activity is by local day.

{%- set as_of = as_of_date() %}

with

as_of as (

    select {{ as_of }} as as_of_date

),

periods as (

    select
        'day' as period,
        {{ as_of }} as period_start,
        date_add({{ as_of }}, 1) as period_end
    union all
    select
        'month' as period,
        trunc({{ as_of }}, 'MM') as period_start,
        date_add({{ as_of }}, 1) as period_end

),

orders as (

    select * from {{ ref('fct_orders_merged') }}
    where activated_at >= trunc({{ as_of }}, 'MM') and activated_at < date_add({{ as_of }}, 1)

),

tickets as (

    select * from {{ ref('fct_service_tickets') }}
    where opened_at >= trunc({{ as_of }}, 'MM') and opened_at < date_add({{ as_of }}, 1)

),

subscribers as (

    select
        subscribers.activated_at,
        subscribers.terminated_at,
        coalesce(products.is_5g_plan, false) as is_5g_plan
    from {{ ref('stg_bss__subscribers') }} as subscribers
    left join {{ ref('stg_bss__products') }} as products on subscribers.plan_product_id = products.product_id

),

-- weekly retention in the app: of the users who logged in during the week before last, the
-- share who logged in during the last 7 days
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

-- one pass over each fact per period, then one row per KPI and period
order_figures as (

    select
        periods.period,
        -- both in one aggregate: an exact percentile keeps a count per distinct value, and
        -- two of them over a million orders cost twice
        percentile(orders.minutes_to_activation, array(0.5, 0.95)) as activation_percentiles,
        avg(cast(orders.is_activated_within_target as double)) as activated_within_2h
    from periods
    left join orders on periods.period_start <= orders.activated_at
    group by periods.period

),

-- a stage's share is of the tickets that reached it
ticket_figures as (

    select
        periods.period,
        percentile(tickets.minutes_to_accept, 0.5) as accept_p50,
        percentile(tickets.minutes_to_network_check, 0.5) as network_check_p50,
        percentile(tickets.minutes_to_answer, 0.5) as answer_p50,
        percentile(tickets.minutes_to_resolve, 0.5) as resolve_p50,
        avg(cast(tickets.is_accept_within_sla as double)) as accept_within_sla,
        avg(cast(tickets.is_network_check_within_sla as double)) as network_check_within_sla,
        avg(cast(tickets.is_answer_within_sla as double)) as answer_within_sla,
        avg(tickets.satisfaction_score) as satisfaction
    from periods
    left join tickets on periods.period_start <= tickets.opened_at
    group by periods.period

),

subscriber_periods as (

    select
        periods.period,
        subscribers.is_5g_plan,
        subscribers.activated_at < periods.period_start
        and coalesce(subscribers.terminated_at >= periods.period_start, true) as is_open_at_start,
        subscribers.activated_at < periods.period_end
        and coalesce(subscribers.terminated_at >= periods.period_end, true) as is_open_at_end
    from periods
    cross join subscribers

),

subscriber_figures as (

    select
        period,
        -- of the accounts open when the period starts, the share not terminated by its end
        avg(case when is_open_at_start then cast(is_open_at_end as double) end) as retention,
        avg(case when is_open_at_end then cast(is_5g_plan as double) end) as five_g_share
    from subscriber_periods
    group by period

),

user_figures as (

    select avg(case when last_login_date is not null then cast(is_at_risk as double) end) as at_risk_share
    from {{ ref('dim_user') }}

),

app_retention as (

    select sum(in_previous_week * in_last_week) / nullif(sum(in_previous_week), 0) as weekly_retention
    from logins

),

kpis as (

    select
        periods.period,
        periods.period_start,
        periods.period_end,
        stack(
            15,
            'subscriber_retention_rate', 'share', subscriber_figures.retention,
            'app_login_weekly_retention_rate', 'share', app_retention.weekly_retention,
            'order_to_activation_p50_minutes', 'minutes', order_figures.activation_percentiles[0],
            'order_to_activation_p95_minutes', 'minutes', order_figures.activation_percentiles[1],
            'activated_within_2h_share', 'share', order_figures.activated_within_2h,
            'ticket_accept_p50_minutes', 'minutes', ticket_figures.accept_p50,
            'ticket_network_check_p50_minutes', 'minutes', ticket_figures.network_check_p50,
            'ticket_answer_p50_minutes', 'minutes', ticket_figures.answer_p50,
            'ticket_resolve_p50_minutes', 'minutes', ticket_figures.resolve_p50,
            'ticket_accept_within_sla_share', 'share', ticket_figures.accept_within_sla,
            'ticket_network_check_within_sla_share', 'share', ticket_figures.network_check_within_sla,
            'ticket_answer_within_sla_share', 'share', ticket_figures.answer_within_sla,
            'avg_satisfaction', 'score 1-5', ticket_figures.satisfaction,
            'five_g_user_share', 'share', subscriber_figures.five_g_share,
            'at_risk_user_share', 'share', user_figures.at_risk_share
        ) as (kpi, unit, kpi_value)
    from periods
    inner join order_figures on periods.period = order_figures.period
    inner join ticket_figures on periods.period = ticket_figures.period
    inner join subscriber_figures on periods.period = subscriber_figures.period
    cross join app_retention
    cross join user_figures

),

targets as (

    {{ kpi_targets() }}

),

five_g_baseline as (

    select
        coalesce(
            {{ var('five_g_share_baseline') or 'cast(null as double)' }},
            {{ first_kpi_value_in_history('five_g_user_share', as_of) }},
            five_g_share
        ) as baseline
    from subscriber_figures
    where period = 'day'

),

final as (

    select
        {{ as_of }} as as_of_date,
        kpis.period,
        kpis.period_start,
        kpis.kpi,
        cast(kpis.kpi_value as double) as kpi_value,
        kpis.unit,
        targets.direction,
        case kpis.kpi
            when 'five_g_user_share'
                then five_g_baseline.baseline * (1 + {{ var('kpi_targets').five_g_user_share.uplift }})
            -- a month's target, pro rata for a shorter period
            when 'subscriber_retention_rate'
                then pow(
                    targets.target, datediff(kpis.period_end, kpis.period_start) / day(last_day(kpis.period_start))
                )
            else targets.target
        end as target  -- noqa: RF04
    from kpis
    left join targets on kpis.kpi = targets.kpi
    cross join five_g_baseline

)

select
    *,
    case direction
        when 'at_least' then kpi_value >= target
        when 'at_most' then kpi_value <= target
    end as meets_target
from final
