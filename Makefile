# Two commands matter: `make run` and `make test`. Each creates or updates .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= servinfo-data
# The fideslang package pins an older pydantic than servinfo uses, so the interchange
# test loads our export with the real package from a venv of its own.
FIDESLANG_VENV := .venv-fideslang

.PHONY: run test lint typecheck pytest crash clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

$(FIDESLANG_VENV)/.installed:
	$(PYTHON) -m venv $(FIDESLANG_VENV)
	$(FIDESLANG_VENV)/bin/pip install --quiet fideslang==3.1.4
	touch $@

# First run: initialize the deployment (the admin token is kept in $(DATA_DIR)/admin.token,
# mode 0600, for this local demo only; --local-demo records that this is the demo, whose
# master key stays beside the data without the warning any other deployment gets).
# Every run: load the demo data if it is not loaded
# yet (simulated Service Information sent through the same ingest path the cloud services
# use; the demo principals' tokens land in $(DATA_DIR)/demo-tokens/), check the policy,
# render the notice, serve the API over HTTPS on https://127.0.0.1:8443.
run: $(VENV)/.installed
	$(BIN)/servinfo policy check
	@if [ ! -f $(DATA_DIR)/servinfo.toml ]; then \
		$(BIN)/servinfo init --data-dir $(DATA_DIR) --admin-token-file $(DATA_DIR)/admin.token --local-demo; \
	fi
	SERVINFO_TOKEN_FILE=$(DATA_DIR)/admin.token $(BIN)/servinfo demo --data-dir $(DATA_DIR)
	$(BIN)/servinfo notice render --format html --out $(DATA_DIR)/notice.html
	@echo "servinfo is in $(BIN): in another terminal here, run 'source $(BIN)/activate' (README.md goes on from there)"
	$(BIN)/servinfo serve --data-dir $(DATA_DIR)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src tests

# pytest exits 5 when it collected no test: that must fail, not pass silently.
pytest: $(VENV)/.installed-dev $(FIDESLANG_VENV)/.installed
	SERVINFO_FIDESLANG_PYTHON=$(FIDESLANG_VENV)/bin/python $(BIN)/pytest; \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; \
	exit $$status

test: lint typecheck pytest

# Only the kill -9 rounds (tests/crash, also part of `make test`); SERVINFO_CRASH_ROUNDS and
# SERVINFO_CRASH_SEED tune them.
crash: $(VENV)/.installed-dev
	$(BIN)/pytest -m crash

clean:
	rm -rf $(VENV) $(FIDESLANG_VENV) .pytest_cache .mypy_cache .ruff_cache
