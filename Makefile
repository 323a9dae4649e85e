# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: venv demo test lint ui sandbox bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# the embedded default instance: an empty dagster.yaml means SQLite storage in DAGSTER_HOME
$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME) && printf 'telemetry:\n  enabled: false\n' > $@

demo: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/contact-pipelines demo

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check contact_pipelines tests benchmarks
	$(BIN)/ruff format --check contact_pipelines tests benchmarks

ui: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

sandbox: venv
	$(BIN)/contact-pipelines sandbox --port 8765

clean:
	rm -rf $(VENV) .dagster_home data/warehouse .pytest_cache
