-- Current service tickets with their stage times; the customer's phone as the CRM's: the unified
-- user ID's token.

with

source as (

    select * from {{ source('crm', 'crm_service_tickets') }}
    where not _is_deleted

),

renamed as (

    select
        ticket_id,
        customer_id,
        {{ user_token('phone') }} as user_token,
        category,
        channel,
        status,
        opened_at,
        accepted_at,
        network_checked_at,
        answered_at,
        resolved_at,
        satisfaction_score,
        updated_at,
        _applied_at
    from source

)

select * from renamed
