-- Current CRM customers: one row per customer, deleted ones dropped. The contract's pii columns
-- leave bronze protected (dbt/macros/pii.sql): the phone as the unified user ID's token and a
-- masked form, the name and birth date encrypted, the name masked.

with

source as (

    select * from {{ source('crm', 'crm_customers') }}
    where not _is_deleted

),

renamed as (

    select
        customer_id,
        {{ user_token('phone') }} as user_token,
        phone is not null as has_phone,
        {{ mask_phone('phone') }} as phone_masked,
        {{ pii_encrypt('phone') }} as phone_encrypted,
        {{ pii_encrypt('full_name') }} as full_name_encrypted,
        {{ mask_name('full_name') }} as full_name_masked,
        {{ standard_gender('gender') }} as gender,
        {{ pii_encrypt('birth_date') }} as birth_date_encrypted,
        city,
        acquisition_channel,
        created_at,
        updated_at,
        _source_ts as source_changed_at
    from source

)

select * from renamed
