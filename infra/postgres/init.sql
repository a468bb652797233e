-- Roles and databases of the local stack. Run with psql -v pg_user=... -v pg_password=...;
-- every statement is safe to run again.
select format('create role %I login superuser replication password %L', :'pg_user', :'pg_password')
where not exists (select from pg_roles where rolname = :'pg_user') \gexec
select format('alter role %I password %L', :'pg_user', :'pg_password') \gexec
select format('create database %I owner %I', d, :'pg_user')
from unnest(array['crm', 'bss', 'metastore', 'airflow']) as d
where not exists (select from pg_database where datname = d) \gexec
