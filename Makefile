# The two commands of the README, the stack's controls and the checks. Each step is idempotent.
.PHONY: run try-change test test-faults test-cluster unit lint setup start stop status hooks
# The tests start and stop the capture service themselves (their own consumers would race it).
TEST_SERVICES := postgres kafka connect ldap thrift serving airflow

PY := .venv/bin/python
# PROFILE=cluster: every target on the cluster profile (infra/cluster.env: Spark standalone, HDFS,
# three Kafka brokers; its own home .lakehouse-cluster). Local by default.
PROFILE ?= local
export LAKEHOUSE_PROFILE := $(PROFILE)

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

## test-cluster: the cluster tier (tests/cluster): the same gold in local mode and on the cluster
## profile, each from a new home, then a Spark worker, a DataNode and a Kafka broker killed under
## work (stop any running stack first; about 40 minutes; the cluster stays up afterwards)
test-cluster: setup
	LAKEHOUSE_PROFILE=cluster LAKEHOUSE_HOME=$(CURDIR)/.lakehouse-verify-cluster $(PY) -m pytest tests/cluster
	@echo "cluster stack left up; stop it: LAKEHOUSE_HOME=$(CURDIR)/.lakehouse-verify-cluster make stop PROFILE=cluster"

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
