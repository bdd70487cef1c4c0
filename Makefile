# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint eval install install-dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed-core: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[dev,llm,ray]'
	touch $@ $(VENV)/.installed-core

install: $(VENV)/.installed-core
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed-core
	$(VENV)/bin/shuzhi demo --out out/demo

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check pipeline tests eval

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check pipeline tests eval
	$(PY) -m pytest -rs

eval: $(VENV)/.installed-dev
	$(PY) eval/run_all.py

clean:
	rm -rf out .pytest_cache
