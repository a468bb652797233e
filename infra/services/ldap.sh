# shellcheck shell=bash
# OpenLDAP (Debian's slapd): the logins of the SQL endpoint (HiveServer2's LDAP mechanism). The
# directory is rebuilt from core/directory.py on every start. Sourced by infra/stack.sh.

LDAP_LOG="$LOG_DIR/ldap.log"
LDAP_URL="ldap://$LAKEHOUSE_BIND_HOST:$LDAP_PORT"

slapd_bin() { command -v slapd || { [ -x /usr/sbin/slapd ] && echo /usr/sbin/slapd; }; }

install_ldap() {
  [ -n "$(slapd_bin)" ] && return 0
  say "ldap: not installed, installing Debian's slapd"
  [ "$(id -u)" = 0 ] || die "ldap: slapd is not installed and not root. Run: sudo apt-get install -y slapd"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd; } > "$LOG_DIR/apt-slapd.log" 2>&1 \
    || die "ldap: apt-get install slapd failed. Log: $LOG_DIR/apt-slapd.log"
  # The package's own server is not ours.
  service slapd stop >/dev/null 2>&1 || true
}

ldap_ready() { port_open "$LAKEHOUSE_BIND_HOST" "$LDAP_PORT"; }

start_ldap() {
  install_ldap
  if pid_alive ldap; then say "ldap: already running on $LDAP_URL"; return 0; fi
  port_free ldap "$LDAP_PORT"
  local t=$SECONDS conf="$CONF_DIR/ldap/slapd.conf" seed="$CONF_DIR/ldap/seed.ldif"
  render "$INFRA_DIR/ldap/slapd.conf" "$conf"
  "$VENV_DIR/bin/python" -m core.directory ldif "$seed" || die "ldap: could not write the directory's seed"
  rm -rf "$DATA_DIR/ldap"; mkdir -p "$DATA_DIR/ldap" "$RUN_DIR/ldap"; chmod 700 "$DATA_DIR/ldap"
  "$(slapd_bin | sed 's/slapd$/slapadd/')" -q -f "$conf" -l "$seed" > "$LDAP_LOG" 2>&1 \
    || die "ldap: seeding the directory failed. Log: $LDAP_LOG"
  # -d: in the foreground, so launch owns it and the log gets its lines.
  launch ldap "$LDAP_LOG" "$(slapd_bin)" -d stats -f "$conf" -h "$LDAP_URL"
  wait_until ldap "$LDAP_LOG" 30 ldap_ready
  say "ldap: up on $LDAP_URL in $((SECONDS - t))s (users: $("$VENV_DIR/bin/python" -c 'from core.directory import SQL_USERS; print(", ".join(SQL_USERS))'); log $LDAP_LOG)"
}

stop_ldap() { stop_pid ldap TERM; }
status_ldap() { pid_alive ldap && ldap_ready && echo "up   $LDAP_URL   log $LDAP_LOG" || echo "down            log $LDAP_LOG"; }
