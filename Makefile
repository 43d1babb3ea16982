# make demo   set everything up, then train and score a tiny model on synthetic Spanish
# make test   set everything up, then lint, build the docs and run the whole test suite
# make lint   ruff (lint and format) and the import layering (lint-imports)
# make docs   the documentation site (mkdocs, strict: a broken link fails) into site/
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: setup system-packages test-system-packages demo lint docs test bench clean

setup: system-packages $(VENV)/.installed

# espeak-ng, which the demo and the tests need
system-packages:
	bash local/install_system_packages.sh

# and a single-node SLURM (slurm-wlm, munge), which only the grid runner's cluster tests need
test-system-packages:
	bash local/install_system_packages.sh --with-slurm

# requirements.txt pins the versions tested together; the package itself is installed
# editable (its code, hparams/ and recipes/ stay in this checkout), without re-resolving.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

demo: setup
	$(PY) local/demo.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

test: setup test-system-packages lint docs
	$(PY) -m pytest tests --require-system-packages

bench: setup
	$(PY) bench/data_pipeline.py

clean:
	rm -rf demo results recipes/*/results .pytest_cache site
