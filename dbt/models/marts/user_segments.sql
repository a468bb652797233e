-- Who is in which segment (REQUIREMENTS §3.1, §3.4.1): one row per user and segment, the list
-- marketing and retention teams export. Closed accounts are left out of the marketing audiences
-- and cross-sell lists (nobody sells to them), not out of the value tiers or the churn signal.

with

users as (

    select
        *,
        coalesce(subscriber_status, '') <> 'closed' as is_reachable
    from {{ ref('dim_user') }}

),

memberships as (

    select 'value_high' as segment, user_key, user_id from users where value_tier = 'high'
    union all
    select 'value_medium', user_key, user_id from users where value_tier = 'medium'
    union all
    select 'value_low', user_key, user_id from users where value_tier = 'low'
    union all
    -- churn signal: no app login for the last 3 days
    select 'at_risk', user_key, user_id from users where is_at_risk
    union all
    -- "age 25-30, over 50 GB a month, watches video"
    select 'audience_25_30_heavy_data_video', user_key, user_id from users
    where is_reachable
        and age between {{ var('audience_min_age') }} and {{ var('audience_max_age') }}
        and avg_monthly_data_gb > {{ var('heavy_data_min_monthly_gb') }}
        and video_plays_30d >= {{ var('video_watcher_min_plays_30d') }}
    union all
    -- heavy data users without both a data pack and a video membership: offer the missing one
    select 'cross_sell_data_pack_video', user_key, user_id from users
    where is_reachable
        and avg_monthly_data_gb > {{ var('heavy_data_min_monthly_gb') }}
        and not (has_data_pack and has_video_membership)
    union all
    -- broadband users without smart home
    select 'cross_sell_smart_home', user_key, user_id from users
    where is_reachable and has_broadband and not has_smart_home

)

select * from memberships
