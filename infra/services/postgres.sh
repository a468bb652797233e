# shellcheck shell=bash
# PostgreSQL from Debian, one cluster for the sources (crm, bss), the metastore and Airflow; a
# login role per component (core/pg_roles.py), SCRAM passwords, no trust. Sourced by infra/stack.sh.

PG_DATA="$DATA_DIR/postgres"
PG_LOG="$LOG_DIR/postgres.log"
export PG_SOCKET_DIR="$RUN_DIR/postgres"

pg_bin() {
  local d; d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  [ -d "$d" ] && echo "$d"
}

# Run a PostgreSQL program as the cluster's owner: the server refuses to run as root.
as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_postgres() {
  [ -n "$(pg_bin)" ] && return 0
  say "postgres: not installed, installing Debian's postgresql"
  [ "$(id -u)" = 0 ] || die "postgres: not installed and not root. Run: sudo apt-get install -y postgresql"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } \
    > "$LOG_DIR/apt-postgresql.log" 2>&1 \
    || die "postgres: apt-get install postgresql failed. Log: $LOG_DIR/apt-postgresql.log"
  # The package's own cluster is not ours; keep it from holding resources.
  service postgresql stop >/dev/null 2>&1 || true
}

# admin_psql DATABASE ARGS...: psql as the cluster's owner over the local socket (peer, no password).
admin_psql() {
  local db="$1"; shift
  as_pg_owner "$(pg_bin)/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 -tA "$@"
}

postgres_ready() { admin_psql postgres -c 'select 1' 2>/dev/null | grep -q 1; }

start_postgres() {
  install_postgres
  local bin; bin="$(pg_bin)"
  if pid_alive postgres; then
    "$VENV_DIR/bin/python" -m core.pg_roles >>"$PG_LOG" 2>&1 || die "postgres: updating roles failed. Log: $PG_LOG"
    init_metastore_schema  # a start cut short before it (no pyspark yet) left the cluster without one
    say "postgres: already running on $PG_HOST:$PG_PORT"; return 0
  fi
  port_free postgres "$PG_PORT"
  mkdir -p "$PG_DATA" "$PG_SOCKET_DIR"; touch "$PG_LOG"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$PG_DATA" "$PG_SOCKET_DIR" "$PG_LOG"
  chmod 700 "$PG_DATA"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    say "postgres: initdb in $PG_DATA"
    as_pg_owner "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 \
      || die "postgres: initdb failed. Log: $PG_LOG"
  fi
  render "$INFRA_DIR/postgres/postgresql.conf" "$PG_DATA/postgresql.conf"
  cp "$INFRA_DIR/postgres/pg_hba.conf" "$PG_DATA/pg_hba.conf"
  PG_OS_USER="$(id -un)" render "$INFRA_DIR/postgres/pg_ident.conf" "$PG_DATA/pg_ident.conf"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_DATA/postgresql.conf" "$PG_DATA/pg_hba.conf" "$PG_DATA/pg_ident.conf"
  local t=$SECONDS
  as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
    || { tail -20 "$PG_LOG" >&2; die "postgres: did not start. Log: $PG_LOG"; }
  head -1 "$PG_DATA/postmaster.pid" > "$RUN_DIR/postgres.pid"
  wait_until postgres "$PG_LOG" 30 postgres_ready
  "$VENV_DIR/bin/python" -m core.pg_roles >>"$PG_LOG" 2>&1 \
    || { tail -5 "$PG_LOG" >&2; die "postgres: creating roles and databases failed. Log: $PG_LOG"; }
  init_metastore_schema
  say "postgres: up on $PG_HOST:$PG_PORT in $((SECONDS - t))s (databases crm, bss, metastore, airflow; log $PG_LOG)"
}

# The Hive 2.3 metastore schema, created once with DataNucleus' SchemaTool from Spark's jars.
init_metastore_schema() {
  if admin_psql metastore -c 'select count(*) from "VERSION"' >/dev/null 2>&1; then return 0; fi
  [ -n "$SPARK_HOME" ] || die "metastore: pyspark is not installed in $VENV_DIR. Run: infra/bootstrap.sh"
  require_jars
  local work="$RUN_DIR/metastore-schema" log="$LOG_DIR/metastore-schema.log"
  rm -rf "$work"; mkdir -p "$work"
  (cd "$work" && unzip -q -o "$SPARK_HOME"/jars/hive-metastore-*.jar package.jdo)
  render "$INFRA_DIR/postgres/metastore-datanucleus.properties" "$work/dn.properties"
  say "metastore: creating the Hive metastore schema in PostgreSQL"
  java -cp "$SPARK_HOME/jars/*:$JARS_DIR/spark/postgresql-$POSTGRES_JDBC_VERSION.jar" \
    org.datanucleus.store.schema.SchemaTool -create -api JDO -props "$work/dn.properties" "$work/package.jdo" >"$log" 2>&1 \
    || die "metastore: SchemaTool failed. Log: $log"
  admin_psql metastore -c "insert into \"VERSION\" values (1, '2.3.0', 'Hive release version 2.3.0')" >>"$log" 2>&1 \
    || die "metastore: could not record the schema version. Log: $log"
}

stop_postgres() {
  [ -f "$PG_DATA/postmaster.pid" ] || { rm -f "$RUN_DIR/postgres.pid"; return 0; }
  as_pg_owner "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -f "$RUN_DIR/postgres.pid"
}

status_postgres() { postgres_ready && echo "up   $PG_HOST:$PG_PORT   log $PG_LOG" || echo "down            log $PG_LOG"; }
