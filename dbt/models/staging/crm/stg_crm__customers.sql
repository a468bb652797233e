-- Current CRM customers from the change log: the latest event per key wins, deletes drop out.
-- Events of one key are ordered by commit LSN, then LSN, then Kafka offset.

with

changes as (

    select * from {{ source('crm_cdc', 'crm_customers_changes') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by key
            order by commit_lsn desc nulls last, lsn desc nulls last, kafka_offset desc
        ) as recency
    from changes

),

renamed as (

    select
        after.customer_id as customer_id,
        after.phone as phone_raw,
        {{ normalize_phone('after.phone') }} as phone_e164,
        after.full_name as full_name,
        upper(after.gender) as gender,
        after.birth_date as birth_date,
        after.city as city,
        after.created_at as created_at,
        after.updated_at as updated_at,
        source_ts as source_changed_at
    from latest
    where recency = 1 and op != 'd'

)

select * from renamed
