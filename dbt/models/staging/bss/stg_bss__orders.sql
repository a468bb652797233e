-- Orders of every line of business with one unified status, the phone as the unified user ID,
-- and the order number checked against business type + creation date + serial. Orders the
-- bronze quality gate quarantined (a malformed order number) are left out.

with

quarantined as (

    {{ quarantined_keys('bss.orders') }}

),

source as (

    select orders.*
    from {{ source('bss', 'bss_orders') }} as orders
    left anti join quarantined on orders.order_id = quarantined.key_value
    where not orders._is_deleted

),

statuses as (

    select * from {{ ref('order_status_codes') }}

),

renamed as (

    select
        source.order_id,
        {{ user_token('source.phone') }} as user_token,
        source.phone is not null as has_phone,
        source.product_id,
        source.business_type,
        source.channel,
        source.amount,
        source.status as status_code,
        statuses.order_status,
        source.order_id rlike '^(MOB|BRD|IPT|VAS)[0-9]{14}$'
        and substr(source.order_id, 1, 3) = source.business_type
        and substr(source.order_id, 4, 8) = date_format(source.created_at, 'yyyyMMdd')
        and cast(substr(source.order_id, 12, 6) as int) > 0 as is_order_number_valid,
        source.created_at,
        source.paid_at,
        source.activated_at,
        source.updated_at,
        source._applied_at
    from source
    left join statuses on source.status = statuses.status_code

)

select * from renamed
