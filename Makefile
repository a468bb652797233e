# The two commands of the README, and the stack's controls. Each step is idempotent.
.PHONY: run test setup start stop status

PY := .venv/bin/python

## run: install what is missing, start the stack, run the slice end to end, print where to look
run: start
	$(PY) -m lakehouse.run

## test: install what is missing, start the stack, run every test tier
test: start
	$(PY) -m pytest

setup:
	infra/bootstrap.sh

start: setup
	infra/stack.sh start

stop:
	infra/stack.sh stop

status:
	infra/stack.sh status
