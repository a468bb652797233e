-- The KPI board's day rows of every day the daily schedule built, one partition per as-of date:
-- a day's run (or its backfill) replaces that day's rows and leaves the other days alone.

{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['as_of_date'],
    on_schema_change='append_new_columns',
) }}

select
    kpi,
    kpi_value,
    unit,
    direction,
    target,
    meets_target,
    {{ build_started_at() }} as _built_at,
    as_of_date
from {{ ref('fct_operations_kpis') }}
where period = 'day'
