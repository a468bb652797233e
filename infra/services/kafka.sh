# shellcheck shell=bash
# Apache Kafka, single node, KRaft (no ZooKeeper), from Maven Central jars. Sourced by stack.sh.

KAFKA_LOG="$LOG_DIR/kafka.log"

kafka_java() {  # main class and args, on the broker's classpath
  local heap; read -ra heap <<< "$KAFKA_HEAP_OPTS"  # JVM options: one word each
  java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
    -cp "$JARS_DIR/kafka/*" "$@"
}

kafka_ready() {  # a real request: the broker answers a metadata query
  "$VENV_DIR/bin/python" - <<PY
from kafka import KafkaAdminClient
KafkaAdminClient(bootstrap_servers="$LAKEHOUSE_BIND_HOST:$KAFKA_PORT", request_timeout_ms=3000).list_topics()
PY
}

start_kafka() {
  require_jars
  if pid_alive kafka; then say "kafka: already running on $LAKEHOUSE_BIND_HOST:$KAFKA_PORT"; return 0; fi
  port_free kafka "$KAFKA_PORT"; port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
  local conf="$CONF_DIR/kafka/server.properties" t=$SECONDS
  render "$INFRA_DIR/kafka/server.properties" "$conf"
  if [ ! -f "$DATA_DIR/kafka/meta.properties" ]; then
    local cluster_id
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>"$KAFKA_LOG" | tail -1)" \
      || die "kafka: the Kafka tools do not run (java $KAFKA_HEAP_OPTS). Log: $KAFKA_LOG"
    kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$conf" >"$KAFKA_LOG" 2>&1 \
      || die "kafka: formatting the KRaft log directory failed. Log: $KAFKA_LOG"
  fi
  local heap; read -ra heap <<< "$KAFKA_HEAP_OPTS"  # launch runs a program, not kafka_java
  launch kafka "$KAFKA_LOG" java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
    -cp "$JARS_DIR/kafka/*" kafka.Kafka "$conf"
  wait_until kafka "$KAFKA_LOG" 90 kafka_ready
  say "kafka: up on $LAKEHOUSE_BIND_HOST:$KAFKA_PORT in $((SECONDS - t))s (log $KAFKA_LOG)"
}

stop_kafka() { stop_pid kafka TERM; }
status_kafka() { pid_alive kafka && kafka_ready && echo "up   $LAKEHOUSE_BIND_HOST:$KAFKA_PORT   log $KAFKA_LOG" || echo "down            log $KAFKA_LOG"; }
