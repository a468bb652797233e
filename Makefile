# The two commands of the README, the stack's controls and the checks. Each step is idempotent.
.PHONY: run try-change test test-faults unit lint setup start stop status hooks
# The tests start and stop the capture service themselves (their own consumers would race it).
TEST_SERVICES := postgres kafka connect ldap thrift serving airflow

PY := .venv/bin/python

## run: install what is missing, start the stack, run the pipeline end to end, print where to look
run: start
	$(PY) -m lakehouse.run

## try-change: with the stack always on, change an order at the source and time it to gold
try-change:
	$(PY) -m lakehouse.try_change

## test: install what is missing, start the stack, run every test tier but the fault injections
test: setup
	infra/stack.sh start $(TEST_SERVICES)
	$(PY) -m pytest -m "not faults"

## test-faults: the fault-injection tier (kills and restarts of the stack's parts, retention gaps)
test-faults: setup
	infra/stack.sh start $(TEST_SERVICES)
	$(PY) -m pytest -m faults tests/integration

## unit: the pure-logic tier (no JVM, no services)
unit: setup
	$(PY) -m pytest tests/unit -q

## lint: ruff (lint + format), import contracts, mypy, sqlfluff, shellcheck
lint: setup
	infra/lint.sh

## hooks: install the pre-commit hooks (the same checks, and the commit-message rule)
hooks: setup
	.venv/bin/pre-commit install --hook-type pre-commit --hook-type commit-msg

setup:
	infra/bootstrap.sh

start: setup
	infra/stack.sh start

stop:
	infra/stack.sh stop

status:
	infra/stack.sh status
