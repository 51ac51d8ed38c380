# mechproof — targets a newcomer can guess.  Everything runs inside .venv, created on demand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL ?= zoo/k4/seed050.safetensors
AUDIT_BUDGET ?= 300

.PHONY: install test test-slow test-all demo lint audit bench bench-parallel cubic-table compare-v1 zoo zoo-large zoo-exact zoo-k5-exact frontier-tables exp-audit clean float32-table

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,dask]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/mechproof accuracy $(MODEL)
	$(BIN)/mechproof prove $(MODEL) --strategy brute-force --out /tmp/mechproof-demo-bf.cert
	$(BIN)/mechproof check /tmp/mechproof-demo-bf.cert --model $(MODEL)
	$(BIN)/mechproof prove $(MODEL) --strategy cubic-positional-split --out /tmp/mechproof-demo-cubic.cert
	$(BIN)/mechproof check /tmp/mechproof-demo-cubic.cert --model $(MODEL)
	$(BIN)/mechproof explain /tmp/mechproof-demo-cubic.cert --model $(MODEL) | tail -n 9

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy checker

audit: $(STAMP)
	$(BIN)/mechproof audit --self-test
	$(BIN)/mechproof audit --budget $(AUDIT_BUDGET) --junit audit.xml

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.parallel

bench-parallel: $(STAMP)
	$(BIN)/python -m bench.parallel

cubic-table: $(STAMP)
	$(BIN)/python -m bench.cubic_table

float32-table: $(STAMP)
	$(BIN)/python -m bench.float32_table proofs --jobs 2
	$(BIN)/python -m bench.float32_table forward --impl numpy --jobs 2
	$(BIN)/python -m bench.float32_table forward --impl torch --jobs 1 || true
	$(BIN)/python -m bench.float32_table table

compare-v1: $(STAMP)
	$(BIN)/python -m bench.compare_v1
	$(BIN)/python -m bench.bounds_vs_v1

zoo: $(STAMP)
	$(BIN)/python -m generators.zoo --out zoo --force

# the paper's larger configurations only (K=10 v=128, K=20 v=512; about 3 minutes on 2 cores)
zoo-large: $(STAMP)
	$(BIN)/python -m generators.zoo --out zoo --only k10v128 --only k20v512 --force

# the frontier per zoo group: CSVs, plots and bench/results/frontier/TABLES.md (resumes; see
# bench/frontier_tables.py for --time-budget, --first, --models; hours on 2 cores, all of it)
JOBS ?= 2
FRONTIER_ARGS ?=
frontier-tables: $(STAMP)
	$(BIN)/python -m bench.frontier_tables --jobs $(JOBS) --last brute-force $(FRONTIER_ARGS)

zoo-exact: $(STAMP)
	$(BIN)/python -m generators.zoo --out zoo --exact-only

zoo-k5-exact: $(STAMP)
	$(BIN)/python -m generators.zoo --out zoo --exact-sharded --jobs 2

exp-audit: $(STAMP)
	$(BIN)/mechproof exp-audit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
