-- The KPI board's month rows, one partition per month: the month to date as of the latest day
-- built in it, final once its last day is built. A run (or backfill) of a day replaces its
-- month's rows unless they already run through a later day.

{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['month_start'],
    on_schema_change='fail',
) }}

with

board as (

    select * from {{ ref('fct_operations_kpis') }}
    where period = 'month'

),

final as (

    select
        board.kpi,
        board.kpi_value,
        board.unit,
        board.direction,
        board.target,
        board.meets_target,
        board.as_of_date,
        board.as_of_date = last_day(board.period_start) as is_month_complete,
        {{ build_started_at() }} as _built_at,
        board.period_start as month_start
    from board
    {% if is_incremental() %}
        -- a month already counted through a later day: no rows, its partition is left as it is
        left anti join {{ this }} as built
            on board.period_start = built.month_start and board.as_of_date < built.as_of_date
    {% endif %}

)

select * from final
