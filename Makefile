# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv/ in the repository on first use; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv lint bench clean browser-deps java-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/racelens demo --out out/demo

test: $(STAMP) browser-deps java-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 -q

# The speed claims of docs/benchmarks.md, each side by side with its peer (minutes, not seconds).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_bootstrap.py
	$(BIN)/python benchmarks/bench_redact.py
	$(BIN)/python benchmarks/bench_cache.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_demo.py

lint: $(STAMP)
	$(BIN)/ruff check racelens tests benchmarks

# Debian chromium + chromium-driver for the browser tests (report, reader page; skipped with a message if absent).
browser-deps:
	@bash scripts/browser-deps.sh || echo "browser-deps: chromium or chromium-driver could not be installed; the browser tests will skip"

# A Java runtime for the pyspark tests (local mode).
java-deps:
	@bash scripts/java-deps.sh || echo "java-deps: no Java runtime could be installed; the Spark tests will skip"

clean:
	rm -rf out .pytest_cache
