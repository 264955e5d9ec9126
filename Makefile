# One-stop government service hall suite. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
GEN    := gen
PROTOS := $(shell find protos -name '*.proto')
export PYTHONPATH := $(CURDIR):$(CURDIR)/$(GEN)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install protos run demo test browser lint bench profile bench-timeline bench-adapter bench-router bench-stores bench-tail bench-driver clean new-adapter manifests

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# `hall` (the counter CLI) in .venv/bin, and the checkout and gen/ on the venv's path, so that
	# it and `python -m services...` run with no PYTHONPATH to set.
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --force-reinstall .
	rm -rf build hall_suite.egg-info
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'hall-suite.pth').write_text('$(CURDIR)\n$(CURDIR)/$(GEN)\n')"
	touch $@

install: $(VENV)/.installed ## create the local venv with everything the suite and its tests need

$(GEN)/.stamp: $(VENV)/.installed $(PROTOS) buf.yaml
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(PY) -m grpc_tools.protoc -I protos --python_out=$(GEN) --grpc_python_out=$(GEN) \
		--mypy_out=quiet:$(GEN) --mypy_grpc_out=quiet:$(GEN) $(PROTOS)
	touch $(GEN)/hall/__init__.py $(GEN)/hall/v1/__init__.py
	touch $@

protos: $(GEN)/.stamp ## generate Python code and type stubs from protos/ into gen/ (git-ignored)

run: protos ## start the whole suite as local processes (terminal: warnings, starts and stops; make run ARGS=--verbose: every line; all in var/log/); Ctrl-C stops
	$(PY) -m services.suite $(ARGS)

demo: protos ## drive a company registration end to end through gRPC against `make run`
	$(PY) -m tests.support.demo

test: protos browser ## lint, unit, property, integration and browser tests against real RabbitMQ, PostgreSQL and Chromium
	$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PY) -m pytest

browser: ## headless Chromium and CJK fonts for the web page tests, pdftotext for the printed receipts (Debian packages; installed when missing, as root)
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null; \
		else echo "the web page tests need chromium: apt-get install chromium fonts-noto-cjk (as root)"; exit 1; fi; }
	@command -v pdftotext >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils poppler-data) >/dev/null; \
		else echo "the printed receipt tests need pdftotext: apt-get install poppler-utils poppler-data (as root)"; exit 1; fi; }

lint: protos ## buf lint, ruff and mypy
	$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/mypy

clean: ## remove generated code, local databases and logs
	rm -rf $(GEN) var .pytest_cache .mypy_cache .ruff_cache

bench: protos ## measure bundles/s and latency of the suite against the broker floor (writes bench/results/latest.json)
	$(PY) -m bench.run

profile: protos ## CPU per process and per bundle under load, and where it goes (py-spy if installed)
	$(PY) -m bench.profile

bench-timeline: protos ## one bundle at a time: latency, CPU per process, and each hop's start and duration
	$(PY) -m bench.timeline

bench-adapter: protos ## one adapter process alone through its queue: make bench-adapter DEPT=business|quality
	$(PY) -m bench.adapter $(or $(DEPT),business)

bench-router: protos ## the router process alone, departments answered by a bare pika stand-in
	$(PY) -m bench.router

bench-stores: protos ## intake's, the router's and audit's transactions alone, in one process: wall time, CPU and PostgreSQL's CPU per call
	$(PY) -m bench.stores

bench-tail: protos ## a paced run's median and slowest bundles, stage by stage: waiting before each handler, and its run
	$(PY) -m bench.tail

bench-driver: protos ## a router-shaped transaction through SQLAlchemy, psycopg alone and psycopg's pipeline mode
	$(PY) -m bench.driver

manifests: protos ## render the departments' Kubernetes manifests from services/adapters/departments.toml
	$(PY) -m services.adapters.manifests

new-adapter: protos ## scaffold a department adapter (folder, registry entry, manifests): make new-adapter NAME=<code>
	@test -n "$(NAME)" || (echo "usage: make new-adapter NAME=<department code>" && exit 2)
	$(PY) -m services.adapters.sdk.scaffold $(NAME)
