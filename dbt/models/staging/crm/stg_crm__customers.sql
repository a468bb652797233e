-- Current CRM customers: one row per customer, deleted ones dropped, the phone kept as typed
-- and normalised to E.164 (the unified user ID).

with

source as (

    select * from {{ source('crm', 'crm_customers') }}
    where not _is_deleted

),

renamed as (

    select
        customer_id,
        phone as phone_raw,
        {{ normalize_phone('phone') }} as phone_e164,
        full_name,
        {{ standard_gender('gender') }} as gender,
        birth_date,
        city,
        acquisition_channel,
        created_at,
        updated_at,
        _source_ts as source_changed_at
    from source

)

select * from renamed
