# shellcheck shell=bash
# Apache Kafka in KRaft mode (no ZooKeeper) from Maven Central jars: KAFKA_BROKERS nodes, each a
# broker and a controller in one process; SASL/SCRAM logins and ACLs (core/kafka_access.py).
# Node 1 is the service "kafka" (pid kafka.pid, data $DATA_DIR/kafka), node i>1 "kafka-i".
# Sourced by stack.sh.

KAFKA_LOG="$LOG_DIR/kafka.log"

kafka_node_name() { if [ "$1" = 1 ]; then echo kafka; else echo "kafka-$1"; fi; }
kafka_node_controller_port() { echo $((KAFKA_CONTROLLER_PORT + 2 * ($1 - 1))); }

kafka_java() {  # main class and args, on the broker's classpath
  local heap; read -ra heap <<< "$KAFKA_HEAP_OPTS"  # JVM options: one word each
  java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
    -cp "$JARS_DIR/kafka/*" "$@"
}

kafka_ready() {  # a real request, logged in: every node answers in the cluster's metadata
  "$VENV_DIR/bin/python" -c '
import sys
from kafka import KafkaAdminClient
from core.kafka_access import login
admin = KafkaAdminClient(**login("admin"), request_timeout_ms=3000)
admin.list_topics()
assert len(admin.describe_cluster()["brokers"]) >= int(sys.argv[1])' "${1:-1}"
}

# scram_arg PRINCIPAL: StorageTool's --add-scram value (the credential is written into the
# metadata log at format time: the super users must exist before anyone can log in).
scram_arg() {
  local pw; pw="$(secret "kafka_$1")" || return 1
  [[ "$pw" =~ ^[A-Za-z0-9_-]+$ ]] || die "kafka: the password in secrets/kafka_$1 may hold only letters, digits, _ and -"
  echo "SCRAM-SHA-512=[name=$1,password=$pw]"
}

# kafka_node_conf I: render node I's server.properties; prints its path.
kafka_node_conf() {
  local i="$1" name voters="" j
  name="$(kafka_node_name "$i")"
  if [ "$KAFKA_BROKERS" = 1 ]; then
    KAFKA_QUORUM_KEY=controller.quorum.bootstrap.servers KAFKA_QUORUM="$LAKEHOUSE_BIND_HOST:$KAFKA_CONTROLLER_PORT"
  else
    for ((j = 1; j <= KAFKA_BROKERS; j++)); do
      voters+="${voters:+,}$j@$LAKEHOUSE_BIND_HOST:$(kafka_node_controller_port "$j")"
    done
    KAFKA_QUORUM_KEY=controller.quorum.voters KAFKA_QUORUM="$voters"
  fi
  KAFKA_QUORUM_KEY="$KAFKA_QUORUM_KEY" KAFKA_QUORUM="$KAFKA_QUORUM" KAFKA_NODE_ID="$i" \
    KAFKA_NODE_PORT="$(kafka_node_port "$i")" KAFKA_NODE_CONTROLLER_PORT="$(kafka_node_controller_port "$i")" \
    KAFKA_NODE_DATA="$DATA_DIR/$name" render "$INFRA_DIR/kafka/server.properties" "$CONF_DIR/kafka/$name.properties"
  echo "$CONF_DIR/kafka/$name.properties"
}

# kafka_format I CLUSTER_ID CONF: format node I's log directory with the super users' credentials.
kafka_format() {
  local i="$1" cluster_id="$2" conf="$3" name quorum=() admin_scram broker_scram
  name="$(kafka_node_name "$i")"
  [ "$KAFKA_BROKERS" = 1 ] && quorum=(--standalone)
  admin_scram="$(scram_arg admin)" || die "kafka: no credential for admin"
  broker_scram="$(scram_arg broker)" || die "kafka: no credential for broker"
  kafka_java kafka.tools.StorageTool format "${quorum[@]}" -t "$cluster_id" -c "$conf" \
    --add-scram "$admin_scram" --add-scram "$broker_scram" >"$LOG_DIR/$name.log" 2>&1 \
    || die "kafka: formatting the KRaft log directory of $name failed. Log: $LOG_DIR/$name.log"
  touch "$DATA_DIR/$name/.sasl"
}

# start_kafka_node I: start node I (formatting its log directory the first time) without waiting.
start_kafka_node() {
  local i="$1" name conf cluster_id
  name="$(kafka_node_name "$i")"
  if pid_alive "$name"; then return 0; fi
  port_free "$name" "$(kafka_node_port "$i")"; port_free "$name-controller" "$(kafka_node_controller_port "$i")"
  conf="$(kafka_node_conf "$i")"
  if [ -f "$DATA_DIR/$name/meta.properties" ] && [ ! -f "$DATA_DIR/$name/.sasl" ]; then
    die "kafka: $DATA_DIR/$name was formatted before Kafka had logins (no SCRAM users in it), and bronze holds that Kafka's offsets: start from a new stack home (see the README's 'Logins and secrets')"
  fi
  if [ ! -f "$DATA_DIR/$name/meta.properties" ]; then
    # Every node of one cluster is formatted with the same id, kept beside the data.
    if [ ! -f "$DATA_DIR/kafka-cluster-id" ]; then
      cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>"$KAFKA_LOG" | tail -1)" \
        || die "kafka: the Kafka tools do not run (java $KAFKA_HEAP_OPTS). Log: $KAFKA_LOG"
      echo "$cluster_id" > "$DATA_DIR/kafka-cluster-id"
    fi
    kafka_format "$i" "$(cat "$DATA_DIR/kafka-cluster-id")" "$conf"
  fi
  local heap; read -ra heap <<< "$KAFKA_HEAP_OPTS"  # launch runs a program, not kafka_java
  launch "$name" "$LOG_DIR/$name.log" java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
    -cp "$JARS_DIR/kafka/*" kafka.Kafka "$conf"
}

start_kafka() {
  require_jars
  local i t=$SECONDS alive=0
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do if pid_alive "$(kafka_node_name "$i")"; then alive=$((alive + 1)); fi; done
  if [ "$alive" = "$KAFKA_BROKERS" ]; then say "kafka: already running on $KAFKA_BOOTSTRAP"; return 0; fi
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do start_kafka_node "$i"; done
  wait_until kafka "$KAFKA_LOG" 120 kafka_ready "$KAFKA_BROKERS"
  "$VENV_DIR/bin/python" -m core.kafka_access >>"$KAFKA_LOG" 2>&1 \
    || { tail -3 "$KAFKA_LOG" >&2; die "kafka: setting up logins and ACLs failed. Log: $KAFKA_LOG"; }
  say "kafka: $KAFKA_BROKERS node(s) up on $KAFKA_BOOTSTRAP in $((SECONDS - t))s (log $KAFKA_LOG)"
}

stop_kafka() {
  local i pid
  # All at once: a node left alone waits for a quorum to shut down in order.
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do
    if pid="$(cat "$RUN_DIR/$(kafka_node_name "$i").pid" 2>/dev/null)"; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
  done
  for ((i = KAFKA_BROKERS; i >= 1; i--)); do stop_pid "$(kafka_node_name "$i")" TERM; done
}
status_kafka() { pid_alive kafka && kafka_ready "$KAFKA_BROKERS" && echo "up   $KAFKA_BOOTSTRAP   log $KAFKA_LOG" || echo "down            log $KAFKA_LOG"; }
