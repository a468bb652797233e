{#- dbt-spark's persist_docs runs one ALTER per documented column after each build, each a Delta
    commit, on every incremental run too. Here: the columns whose comment differs from the
    description (a rebuilt table: all; an incremental fact: none, after its first build), all in
    one statement, which Spark 4 takes: at most one commit, none when nothing changed. -#}
{% macro spark__alter_column_comment(relation, column_dict) %}
  {%- set current = {} -%}
  {%- set scan = namespace(done=false) -%}
  {%- for row in run_query('describe ' ~ relation) -%}
    {%- if not row[0] or row[0].startswith('#') -%}
      {%- set scan.done = true -%}
    {%- elif not scan.done -%}
      {%- do current.update({row[0]: row[2] or ''}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set items = [] -%}
  {%- for column_name, column in column_dict.items() if column.get('description') -%}
    {%- if column_name in current and current[column_name] != column['description'] -%}
      {%- set name = adapter.quote(column_name) if column.get('quote') else column_name -%}
      {%- set text = column['description'] | replace('\\', '\\\\') | replace("'", "\\'") -%}
      {%- do items.append(name ~ " comment '" ~ text ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if items -%}
    {%- do run_query('alter table ' ~ relation ~ ' alter column ' ~ items | join(', ')) -%}
  {%- endif -%}
{% endmacro %}
