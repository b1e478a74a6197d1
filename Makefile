# The README's commands. Each target installs what it needs first (once; re-runs reuse the environment).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ferflow-installed
CORES ?= all

.PHONY: demo study test test-all lint deps install clean-env

demo: $(STAMP)  ## install, then run the whole pipeline on the embedded benchmark
	$(BIN)/snakemake --cores $(CORES)

study: $(STAMP)  ## the folds x seeds grid with intervals and verdicts, then the report with its section
	$(BIN)/snakemake study --cores $(CORES)
	$(BIN)/snakemake report --cores $(CORES) --forcerun report

test: $(STAMP)  ## install, then run the default test suite
	$(BIN)/pytest

test-all: $(STAMP)  ## also the slow tests
	$(BIN)/pytest -m ""

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python scripts/lint_workflow.py
	$(BIN)/python scripts/stage_sources.py --check

deps: $(STAMP)  ## after an import changed: re-derive dvc.yaml's package deps and docs/measurements/stage_sources.md
	$(BIN)/python scripts/stage_sources.py --write

install: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/bootstrap.sh
	touch $(STAMP)

clean-env:
	rm -rf $(VENV)
