# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint format typecheck imports pytest wheel-smoke bench clean

setup: $(STAMP)

# torch 2.13.0 first: a CPU build lies on disk; a looser pin would pull a CUDA build.
$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[search,dev,box2d,ray,sb3,onnx]'
	touch $(STAMP)

demo: setup
	$(BIN)/growagent run runs/cartpole.toml

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	$(BIN)/mypy

imports: setup
	$(BIN)/lint-imports --config setup.cfg

pytest: setup
	$(BIN)/pytest -n 2 --durations=15

test: lint typecheck imports pytest

# Build the sdist and the wheel, install the wheel (not editable) into a clean
# venv, torch 2.13.0 first, and smoke-test it from a temp dir (not the checkout):
# first the base install (genomes + operators), then with the search extra.
wheel-smoke: setup
	rm -rf dist
	$(PY) -m build --outdir dist . > /dev/null
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	wheel=$$(ls $(CURDIR)/dist/*.whl); \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install -qq torch==2.13.0; \
	"$$tmp/venv/bin/pip" install -qq "$$wheel"; \
	cd "$$tmp"; \
	venv/bin/python $(CURDIR)/.ci/smoke.py base; \
	venv/bin/pip install -qq "$$wheel[search]"; \
	venv/bin/python $(CURDIR)/.ci/smoke.py search

bench: setup
	$(BIN)/python benchmarks/compile_overhead.py
	$(BIN)/python benchmarks/operators.py

clean:
	rm -rf $(VENV) build dist *.egg-info
