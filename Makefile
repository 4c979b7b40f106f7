# Set-up is part of every target: a fresh clone needs nothing but Python 3.10+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: run test docs lint bench clean

$(VENV)/bin/python:
	@echo "bp_qiskit: creating $(VENV) (first time only)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	@echo "bp_qiskit: installing bp_qiskit and Qiskit into $(VENV); the first time takes a minute or two"
	$(PY) -m pip install -e . | grep -E "^(Collecting|Successfully)" || true
	@$(PY) -c "import bp_qiskit" && touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "bp_qiskit: installing bp_qiskit with its test tools into $(VENV); the first time takes a minute or two"
	$(PY) -m pip install -e ".[test]" | grep -E "^(Collecting|Successfully)" || true
	@$(PY) -c "import bp_qiskit, pytest, pytest_cov" && touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/bp-qiskit run jobs/seed_tutorial.toml

# The coverage gate (fail_under in pyproject.toml) is part of the test target.
test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist worksteal --cov --cov-report=term

$(DOCS_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "bp_qiskit: installing bp_qiskit with its docs tools into $(VENV)"
	$(PY) -m pip install -e ".[docs]" | grep -E "^(Collecting|Successfully)" || true
	@$(PY) -c "import bp_qiskit, sphinx, myst_nb" && touch $@

# The site, with warnings as errors; the tutorial notebook is executed on every build.
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "bp_qiskit: the site is in docs/_build/html/index.html"

lint: $(STAMP)
	$(PY) -m ruff check bp_qiskit tests benchmarks docs
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[benchmark]"
	$(PY) benchmarks/suite.py

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache docs/_build
