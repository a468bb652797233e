-- App events with the phone the app logged in with as the unified user ID's token; event_date is the
-- operator's local date (the landing loader's partition).

select
    event_id,
    {{ user_token('user_phone') }} as user_token,
    device_id,
    event_type,
    event_at,
    event_date,
    app_version,
    channel,
    bytes,
    duration_s,
    _ingested_at
from {{ source('app', 'app_events') }}
