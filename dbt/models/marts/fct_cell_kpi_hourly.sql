-- Per cell and local hour: load, bandwidth utilisation, users, drops and alarms, with a
-- fault-risk flag for cells running hot (REQUIREMENTS §3.4.1: predict faults early).
-- Incremental: the hours that received new 15-minute rows since the last run are recomputed
-- whole (a late file completes an old hour), reading only those dates' partitions.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['cell_id', 'local_hour'],
        partition_by=['local_date'],
        merge_prune_on='local_date',
    )
}}

with

kpis as (

    select * from {{ ref('stg_network__cell_kpis') }}

),

in_scope as (

    {% if is_incremental() %}
        {{ rows_of_touched_groups('kpis', ['cell_id', 'local_hour'], 'period_date', ref('stg_network__cell_kpis')) }}
    {% else %}
        select * from kpis
    {% endif %}

),

cells as (

    select * from {{ ref('stg_network__cells') }}

),

hourly as (

    select
        cell_id,
        local_hour,
        -- the hour's own date: the bronze partition (period_date) is the date of period_start
        -- as the NMS writes it, which is not China time for the first 8 hours of a local day
        cast(local_hour as date) as local_date,
        count(*) as periods,
        avg(load_pct) as avg_load_pct,
        max(load_pct) as max_load_pct,
        avg(bandwidth_util_pct) as avg_bandwidth_util_pct,
        max(bandwidth_util_pct) as max_bandwidth_util_pct,
        avg(active_users) as avg_active_users,
        max(drop_rate_pct) as max_drop_rate_pct,
        sum(alarm_count) as alarm_count,
        max(_ingested_at) as last_ingested_at
    from in_scope
    group by cell_id, local_hour

),

final as (

    select
        hourly.cell_id,
        hourly.local_hour,
        hourly.local_date,
        cells.site_id,
        cells.region,
        cells.rat,
        hourly.periods,
        hourly.avg_load_pct,
        hourly.max_load_pct,
        hourly.avg_bandwidth_util_pct,
        hourly.max_bandwidth_util_pct,
        hourly.avg_active_users,
        hourly.max_drop_rate_pct,
        hourly.alarm_count,
        hourly.avg_load_pct >= {{ var('fault_risk_min_load_pct') }}
        or hourly.max_bandwidth_util_pct >= {{ var('fault_risk_min_util_pct') }} as is_fault_risk,
        hourly.max_drop_rate_pct >= {{ var('fault_min_drop_rate_pct') }} as is_fault,
        hourly.last_ingested_at,
        {{ build_started_at() }} as _built_at
    from hourly
    left join cells on hourly.cell_id = cells.cell_id

)

select * from final
