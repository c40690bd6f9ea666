# Gatepost — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test deps system-deps lint imports typecheck pytest scenarios bench clean

demo: deps
	$(BIN)/gatepost demo

test: deps lint imports typecheck pytest

deps: system-deps $(STAMP)

# Debian packages the project needs: mosquitto (the broker for demo and tests), chromium (the
# browser the panel's tests drive through Playwright) and postgresql (the fleet database: tests
# run the cloud on it in a throwaway cluster of their own; no server is started here).
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing with apt"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'  # [dev] pulls both deployables' extras, [edge] and [cloud]
	touch $(STAMP)

lint: deps
	$(BIN)/ruff check .

# The layering of the tree (.importlinter; docs/architecture.md draws it).
imports: deps
	$(BIN)/lint-imports

typecheck: deps
	$(BIN)/mypy

# Four workers on two cores: most tests wait on real servers (broker, cloud, edge, PostgreSQL,
# a barrier's timing), so two workers leave the cores half idle; work stealing keeps the long
# tests from ending the run alone.
pytest: deps
	$(BIN)/pytest -q -n 4 --dist worksteal

scenarios: deps
	$(BIN)/gatepost scenario run tests/scenarios/*.yaml

bench: deps
	$(BIN)/gatepost bench gate --json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
