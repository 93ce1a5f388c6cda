# Every target installs what it needs: a fresh machine needs only Python 3.11, Java 17 and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
JARS := $(VENV)/delta-jars.txt
# The engines analysts read gold with (no Spark), for tests/spark/test_readers.py.
READERS_VENV := .venv-readers
READERS := $(READERS_VENV)/.installed
export READERS_PYTHON ?= $(abspath $(READERS_VENV))/bin/python
# Only the Spark Connect client (pyspark-client) and the package: what `make connect-test`
# runs the job from.
CLIENT_VENV := .venv-client
CLIENT := $(CLIENT_VENV)/.installed
SAMPLE_DATES := 2025-03-01 2025-03-02 2025-03-03 2025-03-04
export JAVA_HOME := $(shell scripts/java-home.sh)

.DEFAULT_GOAL := help
.PHONY: help install readers run report maintenance bench bench-horizon fuzz test test-unit test-spark test-fast cluster-test connect-test wheel lint format clean
# Two workers, each with its Spark session; the tests that share a warehouse share a worker.
WORKERS := -n 2 --dist loadgroup

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[spark,dev]"
	touch $@

# Resolved once through Spark's resolver, then recorded: later JVMs load the jars directly.
$(JARS): $(INSTALLED)
	$(PY) -m lakehouse.session --warm

$(CLIENT): pyproject.toml
	$(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install --quiet -e ".[client]"
	touch $@

# Spark's and Delta's classes as a cold run of one sample date loads them, archived for the
# next JVMs of scripts/spark-submit.sh (lakehouse.session.CLASS_ARCHIVE); optional: without it
# a cold start loads the classes itself.
CDS := $(VENV)/lakehouse-classes.jsa
$(CDS): $(JARS)
	rm -rf $(VENV)/cds-warehouse
	LAKEHOUSE_CDS_DUMP=$(abspath $(CDS)) scripts/spark-submit.sh jobs/daily.py \
		--run-date $(word 2,$(SAMPLE_DATES)) --warehouse $(VENV)/cds-warehouse > $(VENV)/cds.log 2>&1 \
		|| echo "class archive not made (see $(VENV)/cds.log): cold starts load every class"
	rm -rf $(VENV)/cds-warehouse
	touch $@

install: $(INSTALLED) $(JARS) $(CDS) ## create .venv, install pinned packages, resolve the Delta jars

# What the tests run on: the packages and the Delta jars. Not the class archive, which costs a
# cold sample date (about 40 s) to make, and saves the suite's local submits 2-5 s in all.
TESTED := $(INSTALLED) $(JARS)

$(READERS): tests/readers/requirements.txt
	$(PYTHON) -m venv $(READERS_VENV)
	$(READERS_VENV)/bin/python -m pip install --quiet -r tests/readers/requirements.txt
	touch $@

readers: $(READERS) ## .venv-readers: delta-rs, Polars, pandas and DuckDB, which the tests read gold with

run: install ## run the bundled sample (2025-03-01..04) and print the gold tables
	scripts/spark-submit.sh jobs/daily.py --from $(firstword $(SAMPLE_DATES)) --to $(lastword $(SAMPLE_DATES))
	scripts/spark-submit.sh jobs/show_gold.py

BENCHED := $(VENV)/.bench-installed
$(BENCHED): $(INSTALLED)
	$(PY) -m pip install --quiet -e ".[spark,dev,bench]"
	touch $@

bench: install $(BENCHED) ## the sample warm and cold, N generated days, 100 days of history: make bench [SCALE=0.1] [DAYS=10]
	$(PY) bench/run_bench.py --scale $(or $(SCALE),0.1) --days $(or $(DAYS),10)

fuzz: $(TESTED) $(BENCHED) ## hostile small days in random run orders, gold against the DuckDB reference: make fuzz [SEEDS=5]
	$(PY) bench/fuzz.py --seeds $(or $(SEEDS),5)

bench-horizon: install $(BENCHED) ## day 101 after 100 days of history against day 2: make bench-horizon [DAYS=100]
	$(PY) bench/run_bench.py --no-sample --no-scale --no-duckdb --horizon $(or $(DAYS),100)

maintenance: install ## OPTIMIZE and VACUUM every table (safe beside a daily run)
	scripts/spark-submit.sh jobs/maintenance.py

report: install ## print the SLA report of one ingest date: make report DATE=2025-03-04 [FORMAT=json]
	scripts/spark-submit.sh jobs/report.py --run-date $(DATE) --format $(or $(FORMAT),text)

test: $(TESTED) $(READERS) lint ## lint, type-check and run every test: unit, Spark, whole-process
	$(PY) -m pytest $(WORKERS)

test-unit: $(INSTALLED) ## the tests that need no JVM (tests/unit): seconds
	$(PY) -m pytest tests/unit

test-spark: $(TESTED) $(READERS) ## the tests in the shared Spark session (tests/spark)
	$(PY) -m pytest tests/spark $(WORKERS)

test-fast: $(TESTED) $(READERS) ## every test but the whole-process ones (tests/process)
	$(PY) -m pytest -m "not process" $(WORKERS)

cluster-test: $(TESTED) ## the sample on a standalone cluster (master + 2 workers on loopback) = local mode [FULL=1]
	$(PY) scripts/cluster_test.py $(if $(FULL),--full)

connect-test: $(TESTED) $(CLIENT) ## the sample over Spark Connect (a server on loopback, a client-only venv) = local mode
	CLIENT_PYTHON=$(abspath $(CLIENT_VENV))/bin/python $(PY) scripts/connect_test.py

wheel: install ## build dist/lakehouse-*.whl (console scripts: lakehouse-daily, -report, -maintenance, -restore)
	$(PY) -m build --wheel --outdir dist .

lint: $(INSTALLED) ## ruff (lint and format check) and mypy over the code and its tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(INSTALLED) ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## remove the local warehouse and caches (keeps .venv)
	rm -rf .warehouse spark-warehouse .pytest_cache .mypy_cache .ruff_cache
