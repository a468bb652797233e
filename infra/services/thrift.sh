# shellcheck shell=bash
# Spark Thrift Server (HiveServer2 protocol) with Delta and the shared metastore: the SQL
# endpoint for dbt, analysts and BI tools. Sourced by stack.sh.

THRIFT_LOG="$LOG_DIR/thrift.log"
THRIFT_URL="jdbc:hive2://$LAKEHOUSE_BIND_HOST:$THRIFT_PORT/default"

thrift_ready() {  # a real query over the HiveServer2 protocol
  "$VENV_DIR/bin/python" -c 'from core.sql import thrift_query; assert thrift_query("select 1") == [(1,)]'
}

# launch_hiveserver NAME LOG PORT MEMORY [SPARK_SUBMIT_OPTION...] [-- HIVECONF_OPTION...]: a Spark
# Thrift Server (HiveServer2) on PORT, as the pipeline's and the serving endpoint run it. The
# pyspark wheel has no sbin/start-thriftserver.sh; this is what it would run. Each statement's
# login, times, text hash and tables read go to $LOG_DIR/audit/sql-NAME.jsonl (lakehouse.audit:
# the listener here, the check rule in each endpoint's spark.sql.extensions).
launch_hiveserver() {
  local name="$1" log="$2" port="$3" memory="$4" spark=(); shift 4
  while [ $# -gt 0 ] && [ "$1" != -- ]; do spark+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  # HiveServer2 takes its port from the environment before any configuration file
  HIVE_SERVER2_THRIFT_PORT="$port" HIVE_SERVER2_THRIFT_BIND_HOST="$LAKEHOUSE_BIND_HOST" launch "$name" "$log" \
    "$SPARK_HOME/bin/spark-submit" --master "$SPARK_MASTER" --driver-memory "$memory" "${spark[@]}" \
    --conf spark.extraListeners=lakehouse.audit.AuditListener \
    --conf spark.lakehouse.audit.file="$LOG_DIR/audit/sql-$name.jsonl" --conf spark.lakehouse.audit.endpoint="$name" \
    --class org.apache.spark.sql.hive.thriftserver.HiveThriftServer2 \
    --hiveconf hive.server2.thrift.bind.host="$LAKEHOUSE_BIND_HOST" "$@" spark-internal
}

start_thrift() {
  render_spark_conf
  if pid_alive thrift; then say "thrift: already running, $THRIFT_URL"; return 0; fi
  port_free thrift "$THRIFT_PORT"
  [ -z "${SPARK_CONNECT_PORT:-}" ] || port_free thrift "$SPARK_CONNECT_PORT"
  local t=$SECONDS
  # Spark Connect beside HiveServer2 in the same JVM: the quality gates work through it
  local connect_server=()
  [ -n "${SPARK_CONNECT_PORT:-}" ] && connect_server=(
    --conf spark.plugins=org.apache.spark.sql.connect.SparkConnectPlugin
    --conf spark.connect.grpc.binding.address="$LAKEHOUSE_BIND_HOST"
    --conf spark.connect.grpc.binding.port="$SPARK_CONNECT_PORT")
  # Spark Connect takes only clients that send this bearer token (from the environment, which
  # only this user can read, not the command line, which everyone can).
  local token; token="$(secret spark_connect_token)" || die "thrift: no Spark Connect token"
  SPARK_CONNECT_AUTHENTICATE_TOKEN="$token" launch_hiveserver thrift "$THRIFT_LOG" "$THRIFT_PORT" "$THRIFT_DRIVER_MEMORY" \
    --name lakehouse-thrift-server \
    --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension,lakehouse.audit.AuditExtension \
    --conf spark.scheduler.mode=FAIR --conf spark.scheduler.allocation.file="$INFRA_DIR/spark/fairscheduler.xml" \
    "${connect_server[@]}"
  wait_until thrift "$THRIFT_LOG" 120 thrift_ready
  say "thrift: up, $THRIFT_URL${SPARK_CONNECT_PORT:+ and sc://$LAKEHOUSE_BIND_HOST:$SPARK_CONNECT_PORT} in $((SECONDS - t))s (log $THRIFT_LOG)"
}

stop_thrift() { stop_pid thrift TERM; }
status_thrift() { pid_alive thrift && thrift_ready && echo "up   $THRIFT_URL   log $THRIFT_LOG" || echo "down            log $THRIFT_LOG"; }
