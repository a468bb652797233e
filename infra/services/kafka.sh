# shellcheck shell=bash
# Apache Kafka, single node, KRaft (no ZooKeeper), from Maven Central jars; SASL/SCRAM logins and
# ACLs (core/kafka_access.py). Sourced by stack.sh.

KAFKA_LOG="$LOG_DIR/kafka.log"

kafka_java() {  # main class and args, on the broker's classpath
  local heap; read -ra heap <<< "$KAFKA_HEAP_OPTS"  # JVM options: one word each
  java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
    -cp "$JARS_DIR/kafka/*" "$@"
}

kafka_ready() {  # a real request, logged in: the broker answers a metadata query
  "$VENV_DIR/bin/python" -c '
from kafka import KafkaAdminClient
from core.kafka_access import login
KafkaAdminClient(**login("admin"), request_timeout_ms=3000).list_topics()'
}

# scram_arg PRINCIPAL: StorageTool's --add-scram value (the credential is written into the
# metadata log at format time: the super users must exist before anyone can log in).
scram_arg() {
  local pw; pw="$(secret "kafka_$1")" || return 1
  [[ "$pw" =~ ^[A-Za-z0-9_-]+$ ]] || die "kafka: the password in secrets/kafka_$1 may hold only letters, digits, _ and -"
  echo "SCRAM-SHA-512=[name=$1,password=$pw]"
}

start_kafka() {
  require_jars
  if pid_alive kafka; then say "kafka: already running on $LAKEHOUSE_BIND_HOST:$KAFKA_PORT"; return 0; fi
  port_free kafka "$KAFKA_PORT"; port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
  local conf="$CONF_DIR/kafka/server.properties" t=$SECONDS
  render "$INFRA_DIR/kafka/server.properties" "$conf"
  if [ -f "$DATA_DIR/kafka/meta.properties" ] && [ ! -f "$DATA_DIR/kafka/.sasl" ]; then
    die "kafka: $DATA_DIR/kafka was formatted before Kafka had logins (no SCRAM users in it), and bronze holds that Kafka's offsets: start from a new stack home (see the README's 'Logins and secrets')"
  fi
  if [ ! -f "$DATA_DIR/kafka/meta.properties" ]; then
    local cluster_id admin_scram broker_scram
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>"$KAFKA_LOG" | tail -1)" \
      || die "kafka: the Kafka tools do not run (java $KAFKA_HEAP_OPTS). Log: $KAFKA_LOG"
    admin_scram="$(scram_arg admin)" || die "kafka: no credential for admin"
    broker_scram="$(scram_arg broker)" || die "kafka: no credential for broker"
    kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$conf" \
      --add-scram "$admin_scram" --add-scram "$broker_scram" >"$KAFKA_LOG" 2>&1 \
      || die "kafka: formatting the KRaft log directory failed. Log: $KAFKA_LOG"
    touch "$DATA_DIR/kafka/.sasl"
  fi
  local heap; read -ra heap <<< "$KAFKA_HEAP_OPTS"  # launch runs a program, not kafka_java
  launch kafka "$KAFKA_LOG" java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
    -cp "$JARS_DIR/kafka/*" kafka.Kafka "$conf"
  wait_until kafka "$KAFKA_LOG" 90 kafka_ready
  "$VENV_DIR/bin/python" -m core.kafka_access >>"$KAFKA_LOG" 2>&1 \
    || { tail -3 "$KAFKA_LOG" >&2; die "kafka: setting up logins and ACLs failed. Log: $KAFKA_LOG"; }
  say "kafka: up on $LAKEHOUSE_BIND_HOST:$KAFKA_PORT in $((SECONDS - t))s (log $KAFKA_LOG)"
}

stop_kafka() { stop_pid kafka TERM; }
status_kafka() { pid_alive kafka && kafka_ready && echo "up   $LAKEHOUSE_BIND_HOST:$KAFKA_PORT   log $KAFKA_LOG" || echo "down            log $KAFKA_LOG"; }
