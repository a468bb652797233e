-- Per user and local day: logins, page views, video plays, data sessions, purchases, data used
-- and video watched. Events whose phone cannot be normalised are kept under user_key
-- 'unidentified'. Incremental: the (user, day) pairs that received new events since the last
-- run are recomputed whole (late events included), reading only those days' partitions.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['user_key', 'activity_date'],
        partition_by=['activity_date'],
        merge_prune_on='activity_date',
    )
}}

with

events as (

    select
        *,
        coalesce(user_token, 'unidentified') as user_key
    from {{ ref('stg_app__events') }}

),

in_scope as (

    {% if is_incremental() %}
        {{ rows_of_touched_groups('events', ['user_key', 'event_date'], 'event_date', ref('stg_app__events')) }}
    {% else %}
        select * from events
    {% endif %}

),

daily as (

    select
        user_key,
        max(user_token) as user_id,
        event_date as activity_date,
        count(*) as events,
        count_if(event_type = 'login') as logins,
        count_if(event_type = 'page_view') as page_views,
        count_if(event_type = 'video_play') as video_plays,
        count_if(event_type = 'data_session') as data_sessions,
        count_if(event_type = 'purchase') as purchases,
        cast(coalesce(sum(bytes), 0) / 1e6 as decimal(18, 3)) as data_mb,
        cast(coalesce(sum(case when event_type = 'video_play' then duration_s end), 0) / 60.0 as decimal(18, 2))
            as video_minutes,
        max(_ingested_at) as last_ingested_at,
        {{ build_started_at() }} as _built_at
    from in_scope
    group by user_key, event_date

)

select * from daily
