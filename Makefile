# Spotter developer commands. `make run` and `make test` work on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-quick lint deps testbin bench bench-profile chaos clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,embedded-redis]'
	touch $@

deps: $(STAMP)

## run: the whole stack on this machine (private Redis, recorded prices unless AWS credentials)
run: $(STAMP)
	$(BIN)/spotter up

## test: install and start everything the tests need, then run every test, the `slow` chaos,
## crash and soak runs included (about 35 minutes on 2 cores; `make test-quick` for a fast loop)
test: $(STAMP)
	hack/install-test-deps.sh
	$(BIN)/ruff check src tests hack
	$(BIN)/python -m pytest

## test-quick: the tests that need no Kubernetes control plane, without the slow ones
test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not k8s and not helm and not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests hack bench

testbin:
	hack/build-testbin.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## chaos: every fault, load, crash-consistency, bad-input and security test, the long ones
## included (about 25 minutes; the quick part also runs in `make test`); writes the table of the
## run into docs/reliability.md. SOAK=<seconds> shortens the soak (default 600).
SOAK ?= 600
chaos: $(STAMP)
	$(BIN)/python hack/chaos.py --soak-seconds $(SOAK)

## bench: the API, the fetcher and Redis next to their ceilings, measured side by side and
## printed as one table (about 5 minutes), also written into docs/benchmarks.md; installs wrk,
## redis-benchmark and py-spy when missing. bench-profile: where the time goes (py-spy).
bench: $(STAMP)
	hack/install-bench-deps.sh $(BIN)/python
	mkdir -p build
	$(BIN)/python -m bench.run --json build/bench.json --doc docs/benchmarks.md

bench-profile: $(STAMP)
	hack/install-bench-deps.sh $(BIN)/python
	$(BIN)/python -m bench.profile
