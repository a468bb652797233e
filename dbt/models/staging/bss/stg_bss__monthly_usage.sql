-- Monthly data use and bill per number.

with

source as (

    select * from {{ source('bss', 'bss_monthly_usage') }}
    where not _is_deleted

),

renamed as (

    select
        {{ user_token('phone') }} as user_token,
        bill_month,
        data_gb,
        call_minutes,
        bill_amount,
        updated_at
    from source

)

select * from renamed
