# shellcheck shell=bash
# Airflow 3: api-server (UI and REST), scheduler (LocalExecutor) and dag-processor, each its
# own process, metadata in PostgreSQL. Sourced by stack.sh.

AIRFLOW_URL="http://$LAKEHOUSE_BIND_HOST:$AIRFLOW_PORT"

airflow_env() {  # export Airflow's settings into this shell
  mkdir -p "$AIRFLOW_HOME"
  rm -f "$AIRFLOW_HOME/.jwt_secret"  # where an earlier version kept the JWT key
  export REPO_DIR
  render "$INFRA_DIR/airflow/metadata-db.url" "$CONF_DIR/airflow/metadata-db.url"
  render "$INFRA_DIR/airflow/airflow.env" "$CONF_DIR/airflow.env"
  load_env_file "$CONF_DIR/airflow.env" override
  # Airflow's local-settings hook (what the scheduler preloads for the tasks it forks).
  mkdir -p "$AIRFLOW_HOME/config"
  ln -sf "$INFRA_DIR/airflow/airflow_local_settings.py" "$AIRFLOW_HOME/config/airflow_local_settings.py"
  # The simple auth manager reads the logins from this file (JSON, 0600, from the secret store).
  "$VENV_DIR/bin/python" -m core.secrets airflow-passwords "$AIRFLOW_HOME/passwords.json" \
    || die "airflow: could not write the passwords file"
}

airflow_ready() { curl -sf "$AIRFLOW_URL/api/v2/monitor/health" | grep -q '"metadatabase"'; }

start_airflow() {
  airflow_env
  render_spark_conf
  local t=$SECONDS part
  if ! pid_alive airflow-api-server; then
    port_free airflow-api-server "$AIRFLOW_PORT"
    airflow db migrate > "$LOG_DIR/airflow-db-migrate.log" 2>&1 \
      || die "airflow: db migrate failed. Log: $LOG_DIR/airflow-db-migrate.log"
  fi
  local sql_password; sql_password="$(secret sql_pipeline)" || die "airflow: no SQL password for dbt"
  for part in api-server scheduler dag-processor; do
    if pid_alive "airflow-$part"; then continue; fi
    local args=() preload=
    # With LocalExecutor the logs are local files: no log server to expose. The task processes
    # are forks of the scheduler: what it preloads, the quality gates do not import again.
    [ "$part" = scheduler ] && args=(--skip-serve-logs) && preload="$AIRFLOW_TASK_PRELOAD"
    # dbt's SQL login (dbt/profiles.yml) reaches the tasks through their environment, never the DAGs
    LAKEHOUSE_AIRFLOW_PRELOAD="$preload" DBT_ENV_SECRET_SQL_PASSWORD="$sql_password" \
      launch "airflow-$part" "$LOG_DIR/airflow-$part.log" airflow "$part" "${args[@]}"
  done
  wait_until airflow-api-server "$LOG_DIR/airflow-api-server.log" 120 airflow_ready
  wait_until airflow-scheduler "$LOG_DIR/airflow-scheduler.log" 60 airflow_component_healthy scheduler
  say "airflow: up, UI $AIRFLOW_URL (login $AIRFLOW_ADMIN_USER, password in $LAKEHOUSE_HOME/secrets/airflow_$AIRFLOW_ADMIN_USER) in $((SECONDS - t))s (logs $LOG_DIR/airflow-*.log)"
}

airflow_component_healthy() {
  curl -sf "$AIRFLOW_URL/api/v2/monitor/health" | "$VENV_DIR/bin/python" -c "
import json, sys
sys.exit(0 if json.load(sys.stdin)['$1']['status'] == 'healthy' else 1)"
}

stop_airflow() {
  local part
  # SIGINT lets each part stop its own children (SIGTERM left them running).
  for part in dag-processor scheduler api-server; do stop_pid "airflow-$part" INT; done
}

status_airflow() {
  if pid_alive airflow-api-server && airflow_ready; then
    echo "up   $AIRFLOW_URL   $(curl -sf "$AIRFLOW_URL/api/v2/monitor/health" | tr -d '\n' | cut -c1-160)"
  else echo "down            logs $LOG_DIR/airflow-*.log"; fi
}
