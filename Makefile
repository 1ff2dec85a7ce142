# Two commands on a fresh clone: `make demo` (the main job) and `make test` (the test suite).
# Each creates .venv first: torch 2.13.0 (the CPU build on this machine's disk) before the package,
# so pip never pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready

.PHONY: setup demo test test-slow bench clean

setup: $(READY)

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,reasoning-gym,interp,rl]'
	touch $(READY)

demo: $(READY)
	$(VENV)/bin/arbor demo

test: $(READY)
	$(PY) -m pytest

test-slow: $(READY)
	$(PY) -m pytest -m slow

bench: $(READY)
	$(PY) benchmarks/datasets.py

clean:
	rm -rf $(VENV) runs .pytest_cache
