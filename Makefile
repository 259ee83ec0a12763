# credflow developer entry points. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE ?= $(HOME)/.cache/credflow
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CACHE)/tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
PY := .venv/bin/python
INFRA := $(PY) deploy/local/infra.py

# Endpoints of the native stack (deploy/local). Set them in the environment to use other servers.
export KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:19092
export DATABASE_URL ?= postgresql://credflow@127.0.0.1:15432/credflow
export S3_ENDPOINT_URL ?= http://127.0.0.1:19000
export S3_ACCESS_KEY ?= credflow
export S3_SECRET_KEY ?= credflow-secret
export S3_BUCKET ?= credflow-media
export SMTP_HOST ?= 127.0.0.1
export SMTP_PORT ?= 11025
export MAIL_API_URL ?= http://127.0.0.1:18025

PYTEST := $(PY) -m pytest -p no:cacheprovider

# Helm renders the Kubernetes chart (deploy/k8s) for its offline tests; built from source once.
HELM_VERSION := v3.22.0
export CREDFLOW_HELM ?= $(CACHE)/bin/helm-$(HELM_VERSION)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CACHE)/tools/bin/uv:
	python3 -m venv $(CACHE)/tools
	$(CACHE)/tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml contracts/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

.PHONY: install
install: .venv/.synced ## create .venv from the lock file

.PHONY: lock
lock: $(UV) ## update uv.lock after changing dependencies
	$(UV) lock

.PHONY: up
up: install ## start Kafka, PostgreSQL, MinIO and the SMTP sink (installs them on first use)
	$(INFRA) up

.PHONY: down
down: ## stop everything `make up` / `make run` started
	@if [ -x $(PY) ]; then $(INFRA) down; else echo "nothing to stop (no .venv)"; fi

.PHONY: reset
reset: ## stop everything and delete all local data (databases, topics, files, mail); next start is empty
	@if [ -x $(PY) ]; then $(INFRA) reset; else echo "nothing to reset (no .venv)"; fi

.PHONY: run
run: up ## start the infrastructure and every service in the foreground; Ctrl-C stops the services
	bash deploy/local/run.sh

.PHONY: vendor
vendor: ## copy the console's pinned npm packages (services/console/package.json) into its static files
	bash services/console/vendor.sh

.PHONY: lint
lint: install ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

.PHONY: fmt
fmt: install ## format and auto-fix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

$(CACHE)/bin/helm-$(HELM_VERSION):
	@echo "building Helm $(HELM_VERSION) with go install (first run only, a few minutes)"
	mkdir -p $(CACHE)/gobuild/helm $(CACHE)/bin
	GOBIN=$(CACHE)/gobuild/helm CGO_ENABLED=0 GOFLAGS=-trimpath \
		go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(CACHE)/gobuild/helm/helm $@

.PHONY: helm
helm: $(CACHE)/bin/helm-$(HELM_VERSION) ## build Helm (for the Kubernetes chart's tests)

.PHONY: test-unit
test-unit: install helm ## unit tests (no infrastructure; the Kubernetes chart rendered offline)
	$(PYTEST) tests/unit tests/contract

.PHONY: test-integration
test-integration: up ## integration tests against real Kafka, PostgreSQL, MinIO, SMTP
	$(PYTEST) tests/integration

.PHONY: test-e2e
test-e2e: up ## end-to-end tests with the services as separate processes
	$(PYTEST) tests/e2e

.PHONY: test-chaos
test-chaos: up ## the chaos suite's bounded form: 2,000 rows, short outages (tests/chaos)
	CHAOS_BOUNDED=1 $(PYTEST) -s tests/chaos

.PHONY: test
test: lint test-unit test-integration test-e2e test-chaos ## everything CI runs: lint, then every test tier

.PHONY: chaos
chaos: up ## the chaos suite in full, three runs in a row: instances killed and servers stopped under load
	for run in 1 2 3; do echo "== chaos run $$run"; $(PYTEST) -s tests/chaos; done

.PHONY: contracts
contracts: install ## regenerate contracts/ schemas, AsyncAPI, golden samples, README catalogue
	$(PY) -m credflow_contracts.generate contracts

.PHONY: bench
bench: up ## benchmarks, each beside a raw baseline measured in the same run
	$(PY) -m tests.bench
