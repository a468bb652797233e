-- The product catalogue as analysts see it.

select
    product_id,
    product_code,
    product_name,
    category,
    business_type,
    price,
    data_allowance_gb,
    is_active,
    is_5g_plan
from {{ ref('stg_bss__products') }}
