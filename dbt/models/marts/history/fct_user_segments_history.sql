-- Who was in which segment on every day the daily schedule built, one partition per as-of date:
-- the lists marketing exported, as they were.

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
    segments.user_key,
    segments.user_id,
    {{ build_started_at() }} as _built_at,
    as_of.as_of_date
from {{ ref('fct_user_segments') }} as segments
cross join as_of
