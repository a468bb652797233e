#!/usr/bin/env bash
# Every linter the project uses, each on its own part of the tree; exits non-zero on any finding.
# `make lint` runs it; so do .ci/run (first) and .pre-commit-config.yaml (per hook).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bin="${VENV_DIR:-.venv}/bin"
failed=()
step() {  # step NAME CMD...: run one linter, report its outcome
  local name="$1" t=$SECONDS; shift
  if "$@" > "/tmp/lint-$name.log" 2>&1; then
    printf 'lint: %-12s ok (%ss)\n' "$name" "$((SECONDS - t))"
  else
    printf 'lint: %-12s FAILED (%ss):\n' "$name" "$((SECONDS - t))"; tail -n 40 "/tmp/lint-$name.log"; failed+=("$name")
  fi
}
mapfile -t shell_files < <(git ls-files 'infra/*.sh' 'infra/hooks/*' '.ci/run')
step ruff         "$bin/ruff" check .
step ruff-format  "$bin/ruff" format --check .
step imports      "$bin/lint-imports" --no-cache
step mypy         "$bin/mypy"
step sqlfluff     "$bin/sqlfluff" lint dbt
step shellcheck   shellcheck -x "${shell_files[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "lint: ${#failed[@]} failed: ${failed[*]} (full output: /tmp/lint-<name>.log)"; exit 1
fi
echo "lint: all clean"
