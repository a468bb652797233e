-- BSS accounts, one per number: gender from ISO/IEC 5218 codes to the CRM's M / F / U.

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
        source.phone as phone_raw,
        {{ normalize_phone('source.phone') }} as phone_e164,
        source.gender as gender_code,
        coalesce(genders.gender, 'U') as gender,
        source.plan_product_id,
        source.status,
        source.activated_at,
        source.updated_at
    from source
    left join genders on source.gender = genders.gender_code

)

select * from renamed
