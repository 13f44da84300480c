# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   — installs everything, then reads the example gauge offline (replayed model)
#   make test   — installs everything, then runs the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup system-deps demo test lint bench cassettes live-check clean

setup: system-deps $(VENV)/.installed

system-deps:
	@scripts/install-system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/agent run "read the gauge in examples/gauge/gauge.png" --model replay:examples/gauge/run.cassette.jsonl

test: setup lint
	$(BIN)/python -m pytest

# Three real tasks on the real models your environment has credentials for (GEMINI_API_KEY,
# AGENT_LIVE_OPENAI_URL + AGENT_LIVE_OPENAI_MODEL, AGENT_LIVE_OLLAMA_URL + AGENT_LIVE_OLLAMA_MODEL);
# records cassettes and prints a table. Costs money on a paid key; skipped without credentials.
live-check: setup
	$(BIN)/python -m pytest -m live -s -rs tests/test_live.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache

# The example cassettes are recorded from scripted models with the real tools; replay is strict,
# so re-record them after changing a tool's schema, the system prompt or a skills guide.
cassettes: setup
	$(BIN)/python examples/gauge/make_cassette.py
	$(BIN)/python examples/deck/make_cassettes.py
	$(BIN)/python examples/batch/make_cassettes.py
