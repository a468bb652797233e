-- One row per user. The unified user ID is the phone number in E.164 (REQUIREMENTS §3.3.1), as
-- its keyed-hash token (user_token): it joins the CRM customer and the BSS account. A record
-- whose phone cannot be normalised keeps a
-- row of its own (user_key 'crm-<customer_id>' / 'bss-<subscriber_id>', user_id null), so no
-- customer or account is dropped; the quality rules report them. When two CRM customers share a
-- number, the most recently updated one describes the user and the count says how many there are.

with

customers as (

    select
        *,
        count(*) over (partition by user_token) as phone_customers,
        row_number() over (partition by user_token order by updated_at desc, customer_id desc) as phone_rank
    from {{ ref('stg_crm__customers') }}

),

crm as (

    select
        coalesce(user_token, concat('crm-', customer_id)) as user_key,
        user_token as user_id,
        customer_id,
        case when user_token is null then 1 else phone_customers end as crm_customer_count,
        phone_masked,
        phone_encrypted,
        full_name_encrypted,
        full_name_masked,
        gender,
        birth_date_encrypted,
        city,
        acquisition_channel,
        created_at,
        updated_at
    from customers
    where user_token is null or phone_rank = 1

),

bss as (

    select
        coalesce(user_token, concat('bss-', subscriber_id)) as user_key,
        user_token as user_id,
        subscriber_id,
        phone_masked,
        phone_encrypted,
        gender,
        plan_product_id,
        status,
        activated_at,
        terminated_at,
        updated_at
    from (
        select
            *,
            -- an open account describes the number better than a closed one
            row_number() over (
                partition by user_token
                order by status = 'closed', updated_at desc, subscriber_id desc
            ) as phone_rank
        from {{ ref('stg_bss__subscribers') }}
    ) as ranked
    where user_token is null or phone_rank = 1

),

joined as (

    select
        coalesce(crm.user_key, bss.user_key) as user_key,
        coalesce(crm.user_id, bss.user_id) as user_id,
        crm.customer_id,
        bss.subscriber_id,
        coalesce(crm.crm_customer_count, 0) as crm_customer_count,
        coalesce(crm.phone_masked, bss.phone_masked) as phone_masked,
        coalesce(crm.phone_encrypted, bss.phone_encrypted) as phone_encrypted,
        crm.full_name_encrypted,
        crm.full_name_masked,
        -- the CRM is the system of record for demographics; BSS fills in when the CRM does not know
        case when crm.gender in ('M', 'F') then crm.gender else coalesce(bss.gender, crm.gender, 'U') end as gender,
        crm.gender as crm_gender,
        bss.gender as bss_gender,
        case when crm.gender is not null and bss.gender is not null then crm.gender = bss.gender end
            as is_gender_consistent,
        crm.birth_date_encrypted,
        crm.city,
        crm.acquisition_channel,
        bss.plan_product_id,
        bss.status as subscriber_status,
        bss.activated_at as subscriber_activated_at,
        bss.terminated_at,
        least(crm.created_at, bss.activated_at) as customer_since,
        greatest(crm.updated_at, bss.updated_at) as updated_at
    from crm
    full outer join bss on crm.user_key = bss.user_key

)

select * from joined
