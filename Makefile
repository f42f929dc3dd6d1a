# Thin wrappers over scripts/: `make test` is what CI runs (.ci/run).
# `make run` works too, but make also gets the terminal's Ctrl-C and reports it as an error:
# run scripts/run.sh directly (the README's command) for tutor's own Ctrl-C and exit status.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench clean

install:
	PYTHON=$(PYTHON) VENV=$(VENV) ./scripts/install.sh

run:
	PYTHON=$(PYTHON) VENV=$(VENV) ./scripts/run.sh

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)
