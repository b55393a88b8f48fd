# Two commands on a fresh machine with python3 and make:  `make dev`  and  `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install dev airflow run-once test lint validate schema bench clean

install: $(STAMP)

# Exact versions come from constraints.txt, so a fresh machine resolves what CI resolved.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

DAGSTER_PORT ?= 3000
export DAGSTER_HOME ?= $(CURDIR)/.dativo/dagster

# The main job on embedded defaults: validate the example project, write the Dagster instance config from
# the runner file, then `dg dev` (UI on http://127.0.0.1:$(DAGSTER_PORT); the code location of [tool.dg] in
# pyproject.toml, the same one `dagster dev -w workspace.yaml` loads, without dagster dev's SupersessionWarning);
# the schedules owned by Dagster start running into the local Iceberg warehouse under .dativo/.
dev: install
	$(VENV)/bin/dativo sample-data
	$(VENV)/bin/dativo validate
	$(VENV)/bin/dativo dagster-home
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH exec $(PY) -m dativo_defs.supervise -- \
	  $(VENV)/bin/dg dev --host 127.0.0.1 --port $(DAGSTER_PORT)

AIRFLOW_PORT ?= 8080
# LocalExecutor starts `parallelism` worker processes (Airflow's default: 32): size it to the machine's cores.
AIRFLOW_PARALLELISM ?= $(shell nproc 2>/dev/null || echo 2)

# Airflow 3 standalone on the example project: project-local AIRFLOW_HOME (.dativo/airflow), the dags folder
# airflow_bridge/dags_folder (one file importing airflow_bridge.dags), the DAG manifest compiled first (a parse
# only reads it; after a config change a parse serves the last good DAGs and starts a background compile),
# tenant pools synced first.
# dev and airflow exec dativo_defs.supervise (no shell in between, which would die of the SIGINT itself): Ctrl-C
# ends the server and its whole process tree with exit 0, so make reports no error.
airflow: install
	$(VENV)/bin/dativo sample-data
	$(VENV)/bin/dativo airflow compile
	AIRFLOW__CORE__PARALLELISM=$(AIRFLOW_PARALLELISM) exec $(PY) -m dativo_defs.supervise -- \
	  $(VENV)/bin/dativo airflow standalone --port $(AIRFLOW_PORT)

# Run every enabled job of the example project once, without an orchestrator.
run-once: install
	$(VENV)/bin/dativo sample-data
	$(VENV)/bin/dativo run --all

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Static checks on the two packages: ruff (rule set in pyproject.toml) and mypy with the pydantic plugin.
lint: install
	$(VENV)/bin/ruff check dativo_defs airflow_bridge
	$(VENV)/bin/mypy

validate: install
	$(VENV)/bin/dativo validate

schema: install
	$(VENV)/bin/dativo schema

clean:
	rm -rf .dativo .pytest_cache

# Engine throughput vs the floor (ADBC -> Arrow -> Parquet) and dlt; SQLite, PostgreSQL and MariaDB at 1M and 5M
# rows, the 10k-row incremental and no-new-rows runs, REST vs a plain loop (bench_scale); code-location load
# time vs a hand-written module, Airflow parse (warm, and cold right after a config change) vs a hand-written DAG
# file, each side by side in the same run; figures go to docs/BENCHMARKS.md.
bench: install
	$(VENV)/bin/python -m tests.bench.bench_engine $(BENCH_ARGS)
	$(VENV)/bin/python -m tests.bench.bench_scale $(SCALE_ARGS)
	$(VENV)/bin/python -m tests.bench.bench_defs
	$(VENV)/bin/python -m tests.bench.bench_parse --jobs 1000 5000 --first-parse
	$(VENV)/bin/python -m tests.bench.bench_validate
