# The README's commands. Each target installs what it needs first (once; re-runs reuse the environment).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ferflow-installed
CORES ?= all

.PHONY: demo study test test-all test-slurm lint deps install clean-env

demo: $(STAMP)  ## install, then run the whole pipeline on the embedded benchmark
	$(BIN)/snakemake --cores $(CORES)

study: $(STAMP)  ## the folds x seeds grid with intervals and verdicts, then the report with its section
	$(BIN)/snakemake study --cores $(CORES)
	$(BIN)/snakemake report --cores $(CORES) --forcerun report

test: $(STAMP)  ## install, then run the default test suite
	$(BIN)/pytest

test-all: $(STAMP)  ## also the slow tests and the SLURM tests
	$(BIN)/pytest -m ""

test-slurm: $(STAMP)  ## the SLURM profile on a one-node cluster started here (root; installs SLURM with apt)
	$(BIN)/pytest -m slurm

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
