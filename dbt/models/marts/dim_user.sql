-- One row per customer, keyed by the unified user ID (the E.164 phone number) where it is valid.

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

final as (

    select
        customer_id,
        phone_e164 as user_id,
        phone_raw,
        full_name,
        gender,
        birth_date,
        city,
        created_at,
        updated_at
    from customers

)

select * from final
