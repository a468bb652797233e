-- Each product's list price over time: a version per price change, valid from the source's
-- updated_at until the next version's (the first one from the product's creation), the range
-- half-open. Built from every version the source committed (the CDC change log), not from what
-- each build happened to see, as a snapshot would: two changes between builds are both kept,
-- and a rebuild gives the same history. A view, so that an order read from bronze by the
-- fct_orders view meets a price change as soon as it lands.

{{ config(materialized='view') }}

with

versions as (

    select * from {{ ref('stg_bss__product_changes') }}

),

reads as (

    select
        *,
        row_number() over (
            partition by product_id, updated_at
            order by _commit_lsn desc, _lsn desc, _kafka_offset desc
        ) as nth_read
    from versions

),

source_versions as (

    {#- a version read twice (a re-snapshot, a replay) counts once: its latest read -#}
    select
        product_id,
        price,
        created_at,
        updated_at,
        lag(price) over (partition by product_id order by updated_at) as previous_price,
        row_number() over (partition by product_id order by updated_at) = 1 as is_first
    from reads
    where nth_read = 1

),

price_changes as (

    {#- a version that kept the price (a renamed product) starts no new price -#}
    select
        product_id,
        price,
        case when is_first then least(created_at, updated_at) else updated_at end as valid_from
    from source_versions
    where is_first or not (price <=> previous_price)

),

ranged as (

    select
        product_id,
        price,
        valid_from,
        lead(valid_from) over (partition by product_id order by valid_from) as valid_to
    from price_changes

),

final as (

    select
        *,
        valid_to is null as is_current
    from ranged

)

select * from final
