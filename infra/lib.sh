# shellcheck shell=bash
# Shared shell helpers for infra/*.sh: settings, logging, waiting and clear failures.
# Sourced, never run. Every setting comes from versions.env and stack.env, overridable from
# the environment (a value already exported wins).

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$INFRA_DIR")"

# load_env_file FILE [override]: export its KEY=VALUE lines; a variable already exported wins
# unless "override" is given (for files this project rendered itself). The grammar
# (the same as core/settings.py's parse_env_lines, checked by tests/unit/test_settings.py): blank
# lines and lines starting with # are skipped; the value is taken literally to the end of the line,
# one pair of surrounding double or single quotes removed; no expansion, no escapes, no eval.
load_env_file() {
  local line key value n=0 override="${2:-}"
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || { echo "$1:$n: not KEY=VALUE: $line" >&2; return 1; }
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then value="${BASH_REMATCH[1]}"; fi
    if [ -n "$override" ] || [ -z "${!key+x}" ]; then export "$key=$value"; fi
  done < "$1"
}
load_env_file "$INFRA_DIR/versions.env" || exit 1
# The cluster profile (infra/cluster.env) overrides stack.env's defaults and has a home of its own:
# its metastore, Kafka and warehouse are another cluster's. The environment still wins over both.
export LAKEHOUSE_PROFILE="${LAKEHOUSE_PROFILE:-local}"
case "$LAKEHOUSE_PROFILE" in
  local) ;;
  cluster) load_env_file "$INFRA_DIR/cluster.env" || exit 1 ;;
  *) echo "LAKEHOUSE_PROFILE=$LAKEHOUSE_PROFILE: one of local, cluster" >&2; exit 1 ;;
esac
load_env_file "$INFRA_DIR/stack.env" || exit 1

if [ "$LAKEHOUSE_PROFILE" = local ]; then
  export LAKEHOUSE_HOME="${LAKEHOUSE_HOME:-$REPO_DIR/.lakehouse}"
else
  export LAKEHOUSE_HOME="${LAKEHOUSE_HOME:-$REPO_DIR/.lakehouse-$LAKEHOUSE_PROFILE}"
fi
# Kafka node i's client port (core/settings.py's kafka_bootstrap says the same).
kafka_node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
kafka_bootstrap_list() {
  local i list=""
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do list+="${list:+,}$LAKEHOUSE_BIND_HOST:$(kafka_node_port "$i")"; done
  echo "$list"
}
KAFKA_BOOTSTRAP="$(kafka_bootstrap_list)"; export KAFKA_BOOTSTRAP
export VENV_DIR="${VENV_DIR:-$REPO_DIR/.venv}"
export JARS_DIR="$LAKEHOUSE_HOME/jars"
export LOG_DIR="$LAKEHOUSE_HOME/logs"
export RUN_DIR="$LAKEHOUSE_HOME/run"
export CONF_DIR="$LAKEHOUSE_HOME/conf"
export DATA_DIR="$LAKEHOUSE_HOME/data"
export WAREHOUSE_DIR="${WAREHOUSE_DIR:-$LAKEHOUSE_HOME/warehouse}"
export SPARK_CONF_DIR="$CONF_DIR/spark"
export SPARK_HOME="${SPARK_HOME:-$("$VENV_DIR/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null)}"
export AIRFLOW_HOME="$LAKEHOUSE_HOME/airflow"
export PATH="$VENV_DIR/bin:$PATH"
# The stack's home keeps every other user out: what the stack makes is private to its user (umask
# 077), the home and its folders 0700. Run as root, PostgreSQL runs as its own user: it may pass
# through the home and the folders that hold its files (0710, group postgres), no further.
umask 077
mkdir -p "$LOG_DIR" "$RUN_DIR" "$CONF_DIR" "$DATA_DIR"
secure_home() {
  local d
  for d in "$LAKEHOUSE_HOME" "$LAKEHOUSE_HOME"/*/; do [ -d "$d" ] && chmod go-rwx "$d"; done
  if [ "$(id -u)" = 0 ] && getent group postgres >/dev/null; then
    chgrp postgres "$LAKEHOUSE_HOME" "$DATA_DIR" "$RUN_DIR" "$LOG_DIR" && chmod 710 "$LAKEHOUSE_HOME" "$DATA_DIR" "$RUN_DIR" "$LOG_DIR"
  fi
}
secure_home

say()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die()  { printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# render TEMPLATE OUT: fill ${VAR} from the environment (an unset one is an error) and
# ${secret:NAME} from the secret store, each escaped for OUT's format; OUT is written 0600, whole,
# and left alone when unchanged (running JVMs re-read their config files). See core/secrets.py.
render() {
  "$VENV_DIR/bin/python" -m core.secrets render "$1" "$2"
}

# secret NAME: the secret from the store (generated on first use; core/secrets.py).
secret() { "$VENV_DIR/bin/python" -c 'import sys; from core.secrets import secret; print(secret(sys.argv[1]))' "$1"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# port_free NAME PORT: refuse to start NAME on a port another process holds.
port_free() {
  if port_open 127.0.0.1 "$2"; then
    die "$1: port $2 on 127.0.0.1 is already in use by another process ($(ss -ltnpH "sport = :$2" 2>/dev/null | grep -o 'users:.*' | head -1)). Stop it, or set the port in the environment (see infra/stack.env)."
  fi
}

pid_alive() { local f="$RUN_DIR/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# wait_until NAME LOG SECONDS CMD...: poll CMD until it succeeds, or fail naming the log.
wait_until() {
  local name="$1" log="$2" secs="$3"; shift 3
  local start=$SECONDS
  while ! "$@" >/dev/null 2>&1; do
    if [ -f "$RUN_DIR/$name.pid" ] && ! pid_alive "$name"; then
      tail -n 20 "$log" >&2 2>/dev/null
      die "$name exited during start-up. Its log: $log"
    fi
    if (( SECONDS - start >= secs )); then
      tail -n 20 "$log" >&2 2>/dev/null
      die "$name did not come up within ${secs}s. Its log: $log"
    fi
    sleep 1
  done
}

# launch NAME LOG CMD...: start CMD in its own session, detached, pid in $RUN_DIR/NAME.pid.
launch() {
  local name="$1" log="$2"; shift 2
  : > "$log"
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  echo $! > "$RUN_DIR/$name.pid"
}

# stop_pid NAME [SIGNAL]: signal the process group, wait, then kill what is left.
stop_pid() {
  local sig="${2:-TERM}" f="$RUN_DIR/$1.pid" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# service_rss_kb NAME: resident memory of a service's processes (its session and children).
service_rss_kb() {
  local f pid kb=0
  for f in "$RUN_DIR/$1.pid" "$RUN_DIR/$1"-*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kb=$((kb + $(ps -o rss= -s "$pid" --ppid "$pid" 2>/dev/null | awk '{s+=$1} END {print s+0}')))
  done
  echo "$kb"
}

require_jars() {
  [ -f "$JARS_DIR/.complete" ] || die "JVM jars are missing under $JARS_DIR. Run: infra/fetch_jars.sh"
}
