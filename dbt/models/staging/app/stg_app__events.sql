-- App events with the phone the app logged in with as the unified user ID; event_date is the
-- operator's local date (the landing loader's partition).

select
    event_id,
    user_phone as phone_raw,
    {{ normalize_phone('user_phone') }} as phone_e164,
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
