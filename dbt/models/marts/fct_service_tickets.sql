-- One row per complaint or service ticket: minutes from opening to each stage against the
-- operator's targets (accept <= 10, network check <= 30, answer the user <= 60; REQUIREMENTS
-- §3.4.1). A stage not reached yet has null minutes and a null SLA flag. Incremental like
-- fct_orders_merged, source deletes removed the same way.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='ticket_id',
        pre_hook="{{ delete_rows_deleted_at_source(source('crm', 'crm_service_tickets'), 'ticket_id') }}",
    )
}}

with

tickets as (

    select * from {{ ref('stg_crm__service_tickets') }}
    {% if is_incremental() %}
        where _applied_at > {{ watermark('_applied_at') }}
    {% endif %}

),

timed as (

    select
        *,
        {{ minutes_between('opened_at', 'accepted_at') }} as minutes_to_accept,
        {{ minutes_between('opened_at', 'network_checked_at') }} as minutes_to_network_check,
        {{ minutes_between('opened_at', 'answered_at') }} as minutes_to_answer,
        {{ minutes_between('opened_at', 'resolved_at') }} as minutes_to_resolve
    from tickets

),

final as (

    select
        ticket_id,
        customer_id,
        -- the user the ticket belongs to: its phone, or the CRM customer when the phone is unusable
        coalesce(user_token, concat('crm-', customer_id)) as user_key,
        user_token as user_id,
        category,
        channel,
        status,
        status in ('resolved', 'closed') as is_resolved,
        opened_at,
        cast(opened_at as date) as opened_date,
        accepted_at,
        network_checked_at,
        answered_at,
        resolved_at,
        minutes_to_accept,
        minutes_to_network_check,
        minutes_to_answer,
        minutes_to_resolve,
        minutes_to_accept <= {{ var('sla_accept_minutes') }} as is_accept_within_sla,
        minutes_to_network_check <= {{ var('sla_network_check_minutes') }} as is_network_check_within_sla,
        minutes_to_answer <= {{ var('sla_answer_minutes') }} as is_answer_within_sla,
        satisfaction_score,
        updated_at,
        _applied_at,
        {{ build_started_at() }} as _built_at
    from timed

)

select * from final
