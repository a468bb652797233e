-- The product catalogue with its list prices.

with

source as (

    select * from {{ source('bss', 'bss_products') }}
    where not _is_deleted

),

renamed as (

    select
        product_id,
        product_code,
        product_name,
        category,
        business_type,
        price,
        data_allowance_gb,
        is_active,
        category = 'mobile_5g' as is_5g_plan,
        created_at,
        updated_at
    from source

)

select * from renamed
