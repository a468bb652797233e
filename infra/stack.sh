#!/usr/bin/env bash
# Start, stop or show the stack: infra/stack.sh start|stop|status|restart [--cluster] [service ...]
# Services: postgres hdfs kafka connect ldap spark thrift serving airflow capture (started in that
# order; without a name, each command takes every one the profile has). --cluster: the cluster
# profile (infra/cluster.env, LAKEHOUSE_PROFILE=cluster), with HDFS and Spark standalone.
set -euo pipefail
args=()
for a in "$@"; do
  if [ "$a" = --cluster ]; then export LAKEHOUSE_PROFILE=cluster; else args+=("$a"); fi
done
set -- "${args[@]}"
source "$(dirname "$0")/lib.sh"
# shellcheck disable=SC1090  # each service file is checked on its own
for f in "$INFRA_DIR"/services/*.sh; do source "$f"; done

ALL=(postgres hdfs kafka connect ldap spark thrift serving airflow capture)
PROFILE_SERVICES=(postgres)
[ "$HDFS_DATANODES" -gt 0 ] && PROFILE_SERVICES+=(hdfs)
PROFILE_SERVICES+=(kafka connect ldap)
[ "$SPARK_WORKERS" -gt 0 ] && PROFILE_SERVICES+=(spark)
PROFILE_SERVICES+=(thrift serving airflow capture)
cmd="${1:-status}"; shift || true
services=("$@")
if [ ${#services[@]} -eq 0 ]; then services=("${PROFILE_SERVICES[@]}"); fi
for s in "${services[@]}"; do
  [[ " ${ALL[*]} " == *" $s "* ]] || die "unknown service '$s' (one of: ${ALL[*]})"
done
reverse() { local i; for ((i=${#services[@]}-1; i>=0; i--)); do echo "${services[i]}"; done; }

case "$cmd" in
  start)
    for s in "${services[@]}"; do
      # Connectors need the source tables to exist before Debezium builds its publication.
      [ "$s" = connect ] && "$VENV_DIR/bin/python" -m schemas.apply_ddl
      "start_$s"
    done
    say "stack ($LAKEHOUSE_PROFILE profile): ${services[*]} up; logs in $LOG_DIR" ;;
  stop)
    for s in $(reverse); do "stop_$s"; say "$s: stopped"; done ;;
  restart)
    "$0" stop "${services[@]}"; "$0" start "${services[@]}" ;;
  status)
    total=0
    for s in "${services[@]}"; do
      kb="$(service_rss_kb "$s")"; total=$((total + kb))
      printf '%-9s %6s MiB  %s\n' "$s" "$((kb / 1024))" "$("status_$s" 2>/dev/null || true)"
    done
    printf '%-9s %6s MiB  resident memory of the running stack\n' total "$((total / 1024))" ;;
  *) die "usage: infra/stack.sh start|stop|status|restart [service ...]" ;;
esac
