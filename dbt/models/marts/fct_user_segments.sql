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

-- one scan of dim_user: each user's candidate segments in an array, one row per segment it holds
-- (a union of seven filters read the table seven times)
memberships as (

    select
        segment,
        user_key,
        user_id
    from users
        lateral view explode(array(
            case when value_tier = 'high' then 'value_high' end,
            case when value_tier = 'medium' then 'value_medium' end,
            case when value_tier = 'low' then 'value_low' end,
            -- churn signal: no app login for the last 3 days
            case when is_at_risk then 'at_risk' end,
            -- "age 25-30, over 50 GB a month, watches video"
            case
                when
                    is_reachable
                    and age between {{ var('audience_min_age') }} and {{ var('audience_max_age') }}
                    and avg_monthly_data_gb > {{ var('heavy_data_min_monthly_gb') }}
                    and video_plays_30d >= {{ var('video_watcher_min_plays_30d') }}
                    then 'audience_25_30_heavy_data_video'
            end,
            -- heavy data users without both a data pack and a video membership: offer the missing one
            case
                when
                    is_reachable
                    and avg_monthly_data_gb > {{ var('heavy_data_min_monthly_gb') }}
                    and not (has_data_pack and has_video_membership)
                    then 'cross_sell_data_pack_video'
            end,
            -- broadband users without smart home
            case when is_reachable and has_broadband and not has_smart_home then 'cross_sell_smart_home' end
        )) candidates as segment

)

select * from memberships
where segment is not null
