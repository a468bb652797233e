-- Segment sizes of every day the daily schedule built, one partition per as-of date.

{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['as_of_date'],
) }}

with

-- dim_user holds the one day they are as of
as_of as (

    select max(as_of_date) as as_of_date from {{ ref('dim_user') }}

)

select
    segments.segment,
    segments.users,
    segments.share_of_users,
    {{ build_started_at() }} as _built_at,
    as_of.as_of_date
from {{ ref('fct_segment_sizes') }} as segments
cross join as_of
