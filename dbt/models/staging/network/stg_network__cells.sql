-- The cell inventory.

select
    cell_id,
    site_id,
    region,
    rat,
    capacity_mbps,
    latitude,
    longitude,
    updated_at
from {{ source('network', 'network_cells') }}
