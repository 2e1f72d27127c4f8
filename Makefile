# Steward developer entry points. `make up` runs the governed path locally; `make test` runs the tests.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
MODELS ?= models
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: install models up test test-fast lint bench layers synth clean

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install -q uv==0.13.9

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups
	touch $@

install: .venv/.installed

$(MODELS)/.complete: .venv/.installed $(wildcard gpu_backend/build/*.py)
	$(PY) -m gpu_backend.build --output $(MODELS)
	touch $@

models: $(MODELS)/.complete

up: install models
	$(PY) -m scripts.local up --model-repository $(MODELS)

test: install models
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow and not e2e and not integration and not infra"

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: install models
	$(PY) -m gpu_backend.bench --model-repository $(MODELS)

layers: install
	bash layers/deps/build.sh

synth: install layers
	npx --yes aws-cdk@2 synth --quiet

clean:
	rm -rf .venv .tools cdk.out .steward $(MODELS)
