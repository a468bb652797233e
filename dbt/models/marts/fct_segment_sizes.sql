-- How many users each segment holds, and their share of all users.

with

segments as (

    select * from {{ ref('fct_user_segments') }}

),

users as (

    select count(*) as all_users from {{ ref('dim_user') }}

)

select
    segments.segment,
    count(*) as users,
    count(*) / max(users.all_users) as share_of_users
from segments
cross join users
group by segments.segment
