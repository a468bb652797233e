#!/usr/bin/env bash
# Install everything the project needs on a fresh machine, idempotently:
# the Python venv (pyproject.toml pins), the JVM jars (infra/versions.env), PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v java >/dev/null || die "bootstrap: Java 17 is missing. Install it: apt-get install -y openjdk-17-jre-headless"
command -v python3.11 >/dev/null || command -v python3 >/dev/null || die "bootstrap: Python 3.11 is missing"

stamp="$(sha256sum < "$REPO_DIR/pyproject.toml" | cut -c1-16)"
if [ "$(cat "$VENV_DIR/.installed" 2>/dev/null)" != "$stamp" ]; then
  t=$SECONDS
  say "python: creating $VENV_DIR and installing the pinned packages (first time: a few minutes)"
  [ -x "$VENV_DIR/bin/python" ] || python3 -m venv "$VENV_DIR"
  { "$VENV_DIR/bin/pip" install -q --upgrade pip \
    && "$VENV_DIR/bin/pip" install --progress-bar off -e "${REPO_DIR}[test,dev]"; } > "$LOG_DIR/pip-install.log" 2>&1 \
    || { tail -20 "$LOG_DIR/pip-install.log" >&2; die "python: pip install failed. Log: $LOG_DIR/pip-install.log"; }
  echo "$stamp" > "$VENV_DIR/.installed"
  say "python: packages installed in $((SECONDS - t))s"
else
  say "python: $VENV_DIR up to date"
fi
SPARK_HOME="$("$VENV_DIR/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME

# apt_install COMMAND PACKAGE: Debian's package for a missing command (Maven, shellcheck for make
# lint, Chromium for the browser tests).
apt_install() {
  command -v "$1" >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "bootstrap: $1 is missing. Install it: sudo apt-get install -y $2"
  say "$2: installing Debian's $2"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2"; } > "$LOG_DIR/apt-$2.log" 2>&1 \
    || die "$2: apt-get install failed. Log: $LOG_DIR/apt-$2.log"
}
apt_install mvn maven
apt_install shellcheck shellcheck
apt_install chromium chromium
apt_install javac openjdk-17-jdk-headless  # compiles the serving endpoint's extension (infra/jvm/lakehouse)
"$INFRA_DIR/fetch_jars.sh"

source "$INFRA_DIR/services/postgres.sh"
install_postgres
source "$INFRA_DIR/services/ldap.sh"
install_ldap
say "bootstrap: done (venv $VENV_DIR, jars $JARS_DIR, PostgreSQL $(pg_bin), OpenLDAP $(slapd_bin))"
