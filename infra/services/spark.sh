# shellcheck shell=bash
# Spark standalone for the cluster profile: a master and SPARK_WORKERS workers, each a JVM of its
# own from the pyspark wheel (no Spark download). With SPARK_WORKERS=0 (the local profile) there
# is nothing to start: every Spark application runs in local mode. Sourced by stack.sh.
# The master is the service "spark" (pid spark.pid), worker i "spark-worker<i>".

SPARK_LOG="$LOG_DIR/spark.log"
SPARK_MASTER_UI="http://$LAKEHOUSE_BIND_HOST:$SPARK_MASTER_WEBUI_PORT"

# spark_alive_workers: the workers the master counts as alive (its JSON status page).
spark_alive_workers() {
  curl -sf "$SPARK_MASTER_UI/json/" | "$VENV_DIR/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["aliveworkers"])'
}

spark_ready() { [ "$(spark_alive_workers 2>/dev/null)" = "$SPARK_WORKERS" ]; }

# start_spark_worker I: start worker I without waiting (also after it was killed). Its executors'
# scratch and logs go to $DATA_DIR/spark/worker<i>.
start_spark_worker() {
  local name="spark-worker$1"
  pid_alive "$name" && return 0
  mkdir -p "$DATA_DIR/spark/worker$1"
  SPARK_DAEMON_MEMORY="$SPARK_STANDALONE_DAEMON_MEMORY" launch "$name" "$LOG_DIR/$name.log" "$SPARK_HOME/bin/spark-class" \
    org.apache.spark.deploy.worker.Worker --host "$LAKEHOUSE_BIND_HOST" --cores "$SPARK_WORKER_CORES" \
    --memory "$SPARK_WORKER_MEMORY" --webui-port "$((SPARK_MASTER_WEBUI_PORT + $1))" \
    --work-dir "$DATA_DIR/spark/worker$1" "$SPARK_MASTER"
}

start_spark() {
  [ "${SPARK_WORKERS:-0}" -gt 0 ] || { say "spark: not in this profile (SPARK_WORKERS=0, master $SPARK_MASTER)"; return 0; }
  [[ "$SPARK_MASTER" == spark://* ]] || die "spark: SPARK_WORKERS=$SPARK_WORKERS needs SPARK_MASTER=spark://host:port, not $SPARK_MASTER"
  render_spark_conf
  local t=$SECONDS i
  if ! pid_alive spark; then
    port_free spark "$SPARK_MASTER_PORT"; port_free spark-ui "$SPARK_MASTER_WEBUI_PORT"
    SPARK_DAEMON_MEMORY="$SPARK_STANDALONE_DAEMON_MEMORY" launch spark "$SPARK_LOG" "$SPARK_HOME/bin/spark-class" \
      org.apache.spark.deploy.master.Master --host "$LAKEHOUSE_BIND_HOST" --port "$SPARK_MASTER_PORT" \
      --webui-port "$SPARK_MASTER_WEBUI_PORT"
    wait_until spark "$SPARK_LOG" 60 curl -sf "$SPARK_MASTER_UI/json/"
  fi
  for ((i = 1; i <= SPARK_WORKERS; i++)); do start_spark_worker "$i"; done
  wait_until spark "$SPARK_LOG" 90 spark_ready
  say "spark: master $SPARK_MASTER, $SPARK_WORKERS workers of $SPARK_WORKER_CORES cores and $SPARK_WORKER_MEMORY, UI $SPARK_MASTER_UI, in $((SECONDS - t))s (log $SPARK_LOG)"
}

stop_spark() {
  local i
  for ((i = SPARK_WORKERS; i >= 1; i--)); do stop_pid "spark-worker$i" TERM; done
  stop_pid spark TERM
}
status_spark() {
  [ "${SPARK_WORKERS:-0}" -gt 0 ] || { echo "not in this profile (master $SPARK_MASTER)"; return 0; }
  pid_alive spark && echo "up   $SPARK_MASTER   $(spark_alive_workers 2>/dev/null || echo '?')/$SPARK_WORKERS workers alive   UI $SPARK_MASTER_UI   log $SPARK_LOG" \
    || echo "down            log $SPARK_LOG"
}
