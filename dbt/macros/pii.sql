{#- The contracts' pii columns from silver on (core/pii.py): the functions are the pipeline JVM's
    (spark.sql.catalog.pii, infra/jvm/lakehouse), keyed from the secret store, so no key is in
    the SQL. Deterministic: the same value gives the same token and the same ciphertext. -#}

{#- The unified user ID: the keyed hash of the phone in E.164; null when it is not a mobile number. -#}
{% macro user_token(phone) -%}
    pii.token({{ normalize_phone(phone) }})
{%- endmacro %}

{% macro pii_encrypt(column) -%}
    pii.encrypt(cast({{ column }} as string))
{%- endmacro %}

{#- Only the pipeline's endpoint has pii.decrypt. -#}
{% macro pii_decrypt(column) -%}
    pii.decrypt({{ column }})
{%- endmacro %}

{#- 138****1234: the operator's prefix and the last four digits; null when not a mobile number. -#}
{% macro mask_phone(phone) -%}
    concat(substr({{ normalize_phone(phone) }}, 4, 3), '****', right({{ normalize_phone(phone) }}, 4))
{%- endmacro %}

{#- 王** : the first character, a star for each of the others. -#}
{% macro mask_name(column) -%}
    concat(left({{ column }}, 1), repeat('*', greatest(char_length({{ column }}) - 1, 1)))
{%- endmacro %}
