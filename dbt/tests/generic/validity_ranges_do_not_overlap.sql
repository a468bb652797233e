{#- A key's versions follow one another: each range [valid_from, valid_to) (a null valid_to
    open-ended) ends after it starts, and no two versions are valid at the same instant. Fails
    with each empty range and each overlapping pair. -#}
{% test validity_ranges_do_not_overlap(model, key, valid_from='valid_from', valid_to='valid_to') %}

select
    {{ key }},
    {{ valid_from }} as earlier_valid_from,
    {{ valid_from }} as later_valid_from
from {{ model }}
where {{ valid_to }} <= {{ valid_from }}

union all

select
    earlier.{{ key }},
    earlier.{{ valid_from }} as earlier_valid_from,
    later.{{ valid_from }} as later_valid_from
from {{ model }} as earlier
inner join {{ model }} as later
    on
        earlier.{{ key }} = later.{{ key }}
        and earlier.{{ valid_from }} <= later.{{ valid_from }}
        and (earlier.{{ valid_to }} > later.{{ valid_from }} or earlier.{{ valid_to }} is null)
        -- not the row itself
        and not (
            earlier.{{ valid_from }} <=> later.{{ valid_from }}
            and earlier.{{ valid_to }} <=> later.{{ valid_to }}
        )

{% endtest %}
