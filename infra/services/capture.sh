# shellcheck shell=bash
# The capture service (lakehouse/capture.py): the CDC consumer and the current-state apply always
# on, supervised and restarted with backoff. Sourced by stack.sh. Not in the default start list
# yet: tests and the DAG's capture task still run consumers of their own.

CAPTURE_LOG="$LOG_DIR/capture.log"

capture_status_line() {
  "$VENV_DIR/bin/python" - <<'PY'
import json
from lakehouse.capture import status_line, status_path
p = status_path()
print(status_line(json.loads(p.read_text()) if p.exists() else None))
PY
}

start_capture() {
  render_spark_conf
  if pid_alive capture; then say "capture: already running ($(capture_status_line))"; return 0; fi
  rm -f "$RUN_DIR/capture.json"
  local t=$SECONDS
  launch capture "$CAPTURE_LOG" "$VENV_DIR/bin/python" -m lakehouse.capture
  wait_until capture "$CAPTURE_LOG" 60 test -s "$RUN_DIR/capture.json"
  say "capture: up in $((SECONDS - t))s, $(capture_status_line) (logs $CAPTURE_LOG, $LOG_DIR/capture-*.log)"
}

stop_capture() { stop_pid capture TERM; }

status_capture() {
  if pid_alive capture; then echo "up   $(capture_status_line)   log $CAPTURE_LOG"
  else echo "down            log $CAPTURE_LOG"; fi
}
