-- The cell inventory.

select
    cell_id,
    site_id,
    region,
    rat,
    capacity_mbps,
    latitude,
    longitude
from {{ source('network', 'network_cells') }}
