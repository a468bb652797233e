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
    )
}}

with

events as (

    select *, coalesce(phone_e164, 'unidentified') as user_key
    from {{ ref('stg_app__events') }}

),

{% if is_incremental() %}
touched as (

    select distinct user_key, event_date
    from events
    where _ingested_at > (select max(last_ingested_at) from {{ this }})

),

in_scope as (

    select events.*
    from events
    inner join touched on events.user_key = touched.user_key and events.event_date = touched.event_date
    where events.event_date in (select event_date from touched)

),
{% else %}
in_scope as (

    select * from events

),
{% endif %}

daily as (

    select
        user_key,
        max(phone_e164) as user_id,
        event_date as activity_date,
        count(*) as events,
        count_if(event_type = 'login') as logins,
        count_if(event_type = 'page_view') as page_views,
        count_if(event_type = 'video_play') as video_plays,
        count_if(event_type = 'data_session') as data_sessions,
        count_if(event_type = 'purchase') as purchases,
        cast(coalesce(sum(bytes), 0) / 1e6 as decimal(18, 3)) as data_mb,
        cast(coalesce(sum(case when event_type = 'video_play' then duration_s end), 0) / 60.0 as decimal(18, 2)) as video_minutes,
        max(_ingested_at) as last_ingested_at
    from in_scope
    group by user_key, event_date

)

select * from daily
