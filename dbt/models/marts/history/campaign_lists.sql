-- The marketing lists a campaign system takes each day (REQUIREMENTS §3.1): one partition per
-- list day, a row per list, user and offer: the user key and the offer, nothing else (no phone,
-- name or profile leaves with a list). Closed accounts are on none. The churn model's top decile
-- comes from gold.user_churn_scores of the same day, when it has been scored.

{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['list_date'],
) }}

{%- set scores = load_relation(source('predictions', 'user_churn_scores')) if execute else none %}

with

offers as (

    select * from {{ ref('campaign_offers') }}

),

reachable as (

    select
        user_key,
        has_data_pack,
        has_video_membership
    from {{ ref('dim_user') }}
    where coalesce(subscriber_status, '') <> 'closed' and user_id is not null

),

members as (

    select
        segments.segment as list_name,
        segments.user_key,
        -- a cross-sell list offers each product the user lacks
        case
            when segments.segment = 'cross_sell_data_pack_video'
                then array(
                    case when not reachable.has_data_pack then 'data_pack' end,
                    case when not reachable.has_video_membership then 'video_membership' end
                )
            else array('')
        end as needs
    from {{ ref('fct_user_segments') }} as segments
    inner join reachable on segments.user_key = reachable.user_key
    where segments.segment in (select offers.list_name from offers)

    {% if scores is not none %}
        union all

        select
            'churn_top_decile' as list_name,
            scores.user_key,
            array('') as needs
        from {{ scores }} as scores
        inner join reachable on scores.user_key = reachable.user_key
        where scores.as_of_date = {{ as_of_date() }} and scores.decile = 1
    {% endif %}

),

wanted as (

    select
        members.list_name,
        members.user_key,
        needed.need
    from members
        lateral view explode(members.needs) needed as need

),

final as (

    select
        wanted.user_key,
        offers.offer,
        wanted.list_name,
        {{ as_of_date() }} as list_date
    from wanted
    inner join offers
        on wanted.list_name = offers.list_name and wanted.need = coalesce(offers.needs, '')

)

select * from final
