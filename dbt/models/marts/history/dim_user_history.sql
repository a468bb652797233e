-- Each user's day-dependent attributes (age, app activity, churn signal, value tier, orders and
-- complaints so far) on every day the daily schedule built, one partition per as-of date.

{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['as_of_date'],
) }}

select
    user_key,
    age,
    subscriber_status,
    value_tier,
    last_login_date,
    days_since_last_login,
    app_active_days_30d,
    video_plays_30d,
    is_at_risk,
    activated_orders,
    activated_spend,
    complaints,
    open_complaints,
    {{ build_started_at() }} as _built_at,
    as_of_date
from {{ ref('dim_user') }}
