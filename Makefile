# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   — installs everything, then reads the example gauge offline (replayed model)
#   make test   — installs everything, then runs the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup system-deps demo test bench cassettes clean

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

test: setup
	$(BIN)/python -m pytest

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
