-- 15-minute cell KPIs, with the local hour they belong to (the operator works in China time).

select
    cell_id,
    period_start,
    period_date,
    date_trunc('hour', from_utc_timestamp(period_start, 'Asia/Shanghai')) as local_hour,
    load_pct,
    bandwidth_util_pct,
    active_users,
    drop_rate_pct,
    alarm_count,
    _ingested_at
from {{ source('network', 'network_cell_kpis') }}
