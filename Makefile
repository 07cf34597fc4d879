# Account engagement scoring: the two commands are `make demo` and `make test`.
# Each creates .venv in the project if missing and installs the pinned dependencies
# (requirements*.txt, with the whole resolved set pinned in constraints.txt).
# Everything a run writes (Airflow home, lake, warehouse, sample data) lives under .local/.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -qq -c constraints.txt

export ENGAGEMENT_HOME ?= $(CURDIR)/.local
export AIRFLOW_HOME ?= $(ENGAGEMENT_HOME)/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
# `make airflow`: one port moves every part (UI/API, the URL links use, the execution API tasks call back on)
AIRFLOW_PORT ?= 8080
AIRFLOW_URL ?= http://localhost:$(AIRFLOW_PORT)

.PHONY: demo test fuzz lint airflow bench lock clean chromium cluster

$(VENV)/.runtime: requirements.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned runtime dependencies into $(VENV) (first time: about a minute)..."
	@$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	@echo "Installing pinned test dependencies..."
	@$(PIP) -r requirements-dev.txt
	@touch $@

## demo: install, generate the sample, run every stage over every generated day, print a summary
demo: $(VENV)/.runtime
	@$(BIN)/python -m include.scoring demo

## test: install, then lint and run every test (unit, DAG integrity, integration)
test: $(VENV)/.dev chromium lint
	@$(BIN)/python -m pytest

## fuzz: the property tests with random draws for FUZZ_SECONDS (default 600), then a report of what they found
FUZZ_SECONDS ?= 600
fuzz: $(VENV)/.dev
	@$(BIN)/python -m scripts.fuzz --seconds $(FUZZ_SECONDS)

## chromium: the browser tests use Debian's chromium; installed here when missing and possible
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian chromium for the browser tests..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will skip (fail when CI=true)"; \
	  else echo "note: chromium not found; browser tests will skip (fail when CI=true)"; fi; }

## lint: ruff (rules, Airflow 3 migration rules, formatting) and the import contracts of pyproject.toml
lint: $(VENV)/.dev
	@$(BIN)/ruff check .
	@$(BIN)/ruff check --select AIR3 dags plugins include
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports

## airflow: the Airflow UI, scheduler, DAG processor and triggerer (airflow standalone) on
## http://localhost:$(AIRFLOW_PORT) (default 8080; `make airflow AIRFLOW_PORT=8090` moves every part),
## AIRFLOW_HOME=.local/airflow. The venv's bin goes first on PATH: standalone starts its parts as `airflow`.
airflow: $(VENV)/.runtime
	@echo "Airflow UI: $(AIRFLOW_URL)  (health: $(AIRFLOW_URL)/api/v2/monitor/health)"
	@echo "Log in as admin; the password is printed when Airflow is ready and kept in"
	@echo "  $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"
	@echo "Stop with Ctrl-C."
	PATH="$(abspath $(BIN)):$$PATH" \
	AIRFLOW__API__PORT=$${AIRFLOW__API__PORT:-$(AIRFLOW_PORT)} \
	AIRFLOW__API__BASE_URL=$${AIRFLOW__API__BASE_URL:-$(AIRFLOW_URL)} \
	AIRFLOW__CORE__EXECUTION_API_SERVER_URL=$${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-$(AIRFLOW_URL)/execution/} \
	  $(BIN)/airflow standalone

## bench: the performance harness (large; see benchmarks/README.md)
bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.validation_throughput --rows 1000000
	$(BIN)/python -m benchmarks.publish_bound

## lock: re-resolve constraints.txt from requirements-dev.txt in a throwaway venv
lock:
	rm -rf /tmp/engagement-lock && $(PYTHON) -m venv /tmp/engagement-lock
	/tmp/engagement-lock/bin/python -m pip install -q -r requirements-dev.txt
	(echo "# The whole resolved dependency set, pinned: pip install -r requirements-dev.txt -c constraints.txt"; \
	 echo "# Regenerate: make lock (a fresh venv from requirements-dev.txt, then pip freeze)."; \
	 /tmp/engagement-lock/bin/python -m pip freeze | sort -f) > constraints.txt

## cluster: a native CeleryExecutor cluster on loopback (PostgreSQL + Redis), see scripts/native_cluster.py
cluster: $(VENV)/.runtime
	$(BIN)/python -m scripts.native_cluster up

clean:
	rm -rf .local
