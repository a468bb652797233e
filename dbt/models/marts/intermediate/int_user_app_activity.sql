-- Per user, as of the profile date: last login, active days and video plays over the last 30
-- days, and the churn signal of REQUIREMENTS §3.1: no app login on each of the last
-- `at_risk_days_without_login` days (3 by default) although the user has logged in before.

{%- set as_of = as_of_date() %}

with

daily as (

    select
        *,
        {{ as_of }} as as_of_date
    from {{ ref('fct_app_activity_daily') }}
    where
        user_key <> 'unidentified'
        and activity_date <= {{ as_of }}

),

per_user as (

    select
        user_key,
        as_of_date,
        max(case when logins > 0 then activity_date end) as last_login_date,
        count_if(activity_date > date_sub(as_of_date, 30)) as active_days_30d,
        sum(case when activity_date > date_sub(as_of_date, 30) then video_plays else 0 end) as video_plays_30d,
        sum(case when activity_date > date_sub(as_of_date, 30) then data_mb else 0 end) as app_data_mb_30d
    from daily
    group by user_key, as_of_date

),

final as (

    select
        user_key,
        as_of_date,
        last_login_date,
        datediff(as_of_date, last_login_date) as days_since_last_login,
        active_days_30d,
        video_plays_30d,
        app_data_mb_30d,
        coalesce(last_login_date <= date_sub(as_of_date, {{ var('at_risk_days_without_login') }}), false) as is_at_risk
    from per_user

)

select * from final
