# shellcheck shell=bash
# The read-only SQL endpoint for analysts, the governance committee and BI tools: a second Spark
# Thrift Server (HiveServer2) on the same warehouse and metastore, whose logins are the directory's
# ou=people (the pipeline's endpoint takes ou=services only) and whose every statement passes the
# read-only check of infra/jvm/lakehouse (gold and quality only; no writes, DDL, paths, reflection
# or PII functions outside the pipeline's views; no pii.decrypt at all).
# Sourced by stack.sh.

SERVING_LOG="$LOG_DIR/serving.log"
SERVING_URL="jdbc:hive2://$LAKEHOUSE_BIND_HOST:$SERVING_PORT/gold"
SERVING_DATABASES="gold,quality,audit"
# ...but not the quality gates' quarantine: the raw rows they held back, PII and all.
SERVING_HIDDEN_TABLES="quality.quarantine"
# ...and the audit (who ran what, who erased whom) is the governance committee's.
SERVING_RESTRICTED="audit:governance"

serving_ready() {  # a real query, logged in as an analyst
  "$VENV_DIR/bin/python" -c 'from core.sql import thrift_query; assert thrift_query("select 1", user="analyst") == [(1,)]'
}

start_serving() {
  render_spark_conf
  if pid_alive serving; then say "serving: already running, $SERVING_URL"; return 0; fi
  port_free serving "$SERVING_PORT"
  [ -f "$JARS_DIR/lakehouse/lakehouse-spark.jar" ] || die "serving: its extension is not built. Run: infra/fetch_jars.sh"
  local t=$SECONDS
  launch_hiveserver serving "$SERVING_LOG" "$SERVING_PORT" "$SERVING_DRIVER_MEMORY" \
    --name lakehouse-serving \
    --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension,lakehouse.serving.ReadOnlyExtension,lakehouse.audit.AuditExtension \
    --conf spark.lakehouse.serving.databases="$SERVING_DATABASES" \
    --conf spark.lakehouse.serving.hidden="$SERVING_HIDDEN_TABLES" \
    --conf spark.lakehouse.serving.restricted="$SERVING_RESTRICTED" \
    --conf spark.sql.runSQLOnFiles=false \
    --conf spark.sql.catalog.pii.decrypt=false \
    -- --hiveconf hive.server2.authentication.ldap.baseDN=ou=people,dc=lakehouse,dc=local
  wait_until serving "$SERVING_LOG" 120 serving_ready
  say "serving: up, $SERVING_URL (read-only: $SERVING_DATABASES; logins analyst, governance) in $((SECONDS - t))s (log $SERVING_LOG)"
}

stop_serving() { stop_pid serving TERM; }
status_serving() { pid_alive serving && serving_ready && echo "up   $SERVING_URL   log $SERVING_LOG" || echo "down            log $SERVING_LOG"; }
