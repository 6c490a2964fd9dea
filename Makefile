# Entry points for people and CI. Each target sets up what it needs first
# (scripts/bootstrap.sh is idempotent and fast when nothing is missing).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow bench lint setup clean

setup:
	@scripts/bootstrap.sh demo

demo: setup
	$(BIN)/prognos demo

test:
	@scripts/bootstrap.sh test
	$(BIN)/pytest

test-slow:
	@scripts/bootstrap.sh test
	$(BIN)/pytest -m slow

bench:
	@scripts/bootstrap.sh test
	$(BIN)/python -m bench

lint:
	@scripts/bootstrap.sh test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy prognos ingest detection tasking api simulators

clean:
	rm -rf var build *.egg-info .pytest_cache .ruff_cache .mypy_cache test-artifacts
