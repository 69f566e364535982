# DocuMind Workers — the two commands of the Quickstart are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := true
DEMO_DIR ?= .documind-demo
# Test files run in this many parallel processes (pytest-xdist), each file whole in one of them
# (its module-scoped stacks are built once). One per core: the suite is CPU-bound, and more
# processes than cores only stretch the timing-sensitive tests (cancel mid-OCR, chaos).
# TEST_PROCS=0 runs it in this process, serially.
TEST_PROCS ?= 2
PYTEST_PARALLEL := -n $(TEST_PROCS) --dist loadfile

.PHONY: install system-deps demo test test-quick test-unit test-integration bench bench-quick chaos check-deploy clean

$(VENV)/.installed: scripts/install.sh requirements/constraints.txt requirements/dev.txt shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	bash scripts/install.sh
	touch $@

install: $(VENV)/.installed ## create .venv with every package, pinned

system-deps: ## Debian packages for OCR, PDF rendering and legacy Office formats (root)
	bash scripts/system-deps.sh

demo: install ## embedded mode, no servers: ingest the example folder, then search it
	bash scripts/system-deps.sh --best-effort
	rm -rf $(DEMO_DIR)
	DOCUMIND_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/documind ingest examples/docs --wait
	DOCUMIND_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/documind search "how hot should the water be for coffee" --top-k 3
	DOCUMIND_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/documind search "animals that live on rocky shores" --top-k 3

test: install ## everything: unit, integration (embedded + distributed), deploy files, whole corpus incl. the large files
	bash scripts/system-deps.sh --validators
	bash scripts/services.sh
	$(PY) -m pytest tests -p no:cacheprovider $(PYTEST_PARALLEL)

test-quick: install ## as `make test` but skips the four largest corpus files
	bash scripts/system-deps.sh --validators
	bash scripts/services.sh
	$(PY) -m pytest tests -m "not large" -p no:cacheprovider $(PYTEST_PARALLEL)

test-unit: install
	$(PY) -m pytest tests/unit -p no:cacheprovider $(PYTEST_PARALLEL)

bench: install ## the benchmark suite (see bench/README.md)
	bash scripts/services.sh
	$(PY) -m bench.run

bench-quick: install
	bash scripts/services.sh
	$(PY) -m bench.run --quick

chaos: install ## long chaos run (bench/chaos.py): own Redis + Postgres, kills, outages; report in bench/results/
	bash scripts/system-deps.sh
	$(PY) -m bench.run --only chaos

check-deploy: install ## validate the deploy files offline: Dockerfile, compose, Kubernetes overlays, Prometheus rules, Grafana dashboard
	bash scripts/system-deps.sh --validators
	$(PY) -m pytest tests/deploy -p no:cacheprovider

clean:
	rm -rf $(DEMO_DIR) .documind
