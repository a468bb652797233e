-- BSS accounts, one per number: gender from ISO/IEC 5218 codes to the CRM's M / F / U; the phone
-- as the unified user ID's token, masked and encrypted (dbt/macros/pii.sql).

with

source as (

    select * from {{ source('bss', 'bss_subscribers') }}
    where not _is_deleted

),

genders as (

    select * from {{ ref('bss_gender_codes') }}

),

renamed as (

    select
        source.subscriber_id,
        {{ user_token('source.phone') }} as user_token,
        {{ mask_phone('source.phone') }} as phone_masked,
        {{ pii_encrypt('source.phone') }} as phone_encrypted,
        source.gender as gender_code,
        coalesce(genders.gender, 'U') as gender,
        source.plan_product_id,
        source.status,
        source.activated_at,
        source.terminated_at,
        source.updated_at
    from source
    left join genders on source.gender = genders.gender_code

)

select * from renamed
