-- Every version of a product the CDC pipeline captured, from the change log: what the price
-- history is built from (the current-state source keeps only each product's latest version).
-- Deletes and truncates bring no new version.

with

source as (

    select * from {{ source('bss', 'bss_products_changes') }}
    where op in ('r', 'c', 'u')

),

renamed as (

    select
        source.after.product_id,
        source.after.price,
        source.after.created_at,
        source.after.updated_at,
        source.op,
        -- the change's place in the source's commit order, as the current state orders changes
        -- (spark_jobs/cdc/current_state.py): a snapshot read has no commit LSN of its own
        coalesce(source.commit_lsn, source.lsn, -1) as _commit_lsn,
        coalesce(source.lsn, -1) as _lsn,
        source.kafka_offset as _kafka_offset,
        source.ingested_at as _applied_at
    from source

)

select * from renamed
