# shellcheck shell=bash
# Kafka Connect (distributed, one worker) with the Debezium PostgreSQL connector, and the
# connectors registered from infra/connect/connectors/*.json. Sourced by stack.sh.

CONNECT_LOG="$LOG_DIR/connect.log"
CONNECT_URL="http://$LAKEHOUSE_BIND_HOST:$CONNECT_PORT"
CONNECT_CURL="$CONF_DIR/connect/rest-client.curl"

# connect_api ARGS...: curl logged in to the REST API (basic authentication, login from a 0600 file).
connect_api() { curl -K "$CONNECT_CURL" "$@"; }

connect_ready() {  # the worker answers and has loaded the Debezium plugin
  connect_api -sf "$CONNECT_URL/connector-plugins" | grep -q PostgresConnector
}

start_connect() {
  require_jars
  local f
  for f in secrets.properties rest-users.properties rest-client.curl jaas.conf; do
    render "$INFRA_DIR/connect/$f" "$CONF_DIR/connect/$f"
  done
  if pid_alive connect; then say "connect: already running on $CONNECT_URL"
  else
    port_free connect "$CONNECT_PORT"
    local conf="$CONF_DIR/connect/connect-distributed.properties" t=$SECONDS
    render "$INFRA_DIR/connect/connect-distributed.properties" "$conf"
    local heap; read -ra heap <<< "$CONNECT_HEAP_OPTS"  # JVM options: one word each
    launch connect "$CONNECT_LOG" java "${heap[@]}" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
      -Djava.security.auth.login.config="$CONF_DIR/connect/jaas.conf" \
      -cp "$JARS_DIR/kafka/*" org.apache.kafka.connect.cli.ConnectDistributed "$conf"
    wait_until connect "$CONNECT_LOG" 120 connect_ready
    say "connect: up on $CONNECT_URL in $((SECONDS - t))s (log $CONNECT_LOG)"
  fi
  register_connectors
}

# PUT /connectors/<name>/config creates or updates: safe to run again.
register_connectors() {
  local f name body code
  for f in "$INFRA_DIR"/connect/connectors/*.json; do
    name="$(basename "$f" .json)"
    body="$CONF_DIR/connect/$name.json"
    render "$f" "$body"
    code="$(connect_api -s -o "$LOG_DIR/connect-register.$name.json" -w '%{http_code}' -X PUT \
      -H 'Content-Type: application/json' --data @"$body" "$CONNECT_URL/connectors/$name/config")"
    case "$code" in
      200|201) ;;
      *) die "connect: registering connector $name failed (HTTP $code): $(cat "$LOG_DIR/connect-register.$name.json"). Log: $CONNECT_LOG" ;;
    esac
    wait_until connect "$CONNECT_LOG" 60 connector_running "$name"
    say "connect: connector $name running (config $f)"
  done
}

connector_running() {
  connect_api -sf "$CONNECT_URL/connectors/$1/status" | "$VENV_DIR/bin/python" -c '
import json, sys
s = json.load(sys.stdin)
ok = s["connector"]["state"] == "RUNNING" and s["tasks"] and all(t["state"] == "RUNNING" for t in s["tasks"])
sys.exit(0 if ok else 1)'
}

stop_connect() { stop_pid connect TERM; }
status_connect() {
  if pid_alive connect && connect_ready; then
    echo "up   $CONNECT_URL   connectors: $(connect_api -sf "$CONNECT_URL/connectors" | tr -d '[]"')   log $CONNECT_LOG"
  else echo "down            log $CONNECT_LOG"; fi
}
