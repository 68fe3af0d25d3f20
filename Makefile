# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

# JIT cache outside the repository: speeds up re-runs, never changes results.
export JAX_COMPILATION_CACHE_DIR ?= $(HOME)/.cache/lazyrich-jax
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0.5
export MPLBACKEND := Agg
export PYTHONUNBUFFERED := 1
# Test processes (pytest-xdist, one file per worker): 2 matches the 2-core CI machine; each
# worker holds its own JAX runtime (~3 GB at peak), so raise it only with the memory to match.
TEST_WORKERS ?= 2

.PHONY: demo test test-slow test-all mutants bench docs install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $(STAMP)

install: $(STAMP)

## The main job: every registered CPU-sized claim, with a Markdown/HTML report in report/.
demo: $(STAMP)
	$(VENV)/bin/lazyrich verify --quick --report report/

## The documentation site in site/ (open site/index.html): --strict, notebooks executed in fast
## mode, their figures written to a scratch folder (not into the tree).
docs: $(STAMP)
	rm -rf site
	env -u MPLBACKEND LAZYRICH_FAST=1 LAZYRICH_FIGDIR=$$(mktemp -d) NO_MKDOCS_2_WARNING=1 \
		$(VENV)/bin/mkdocs build --strict --quiet

## Fast tier (< 10 min on 2 cores): lint, theory checks in float64, notebooks in fast mode.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow and not gpu" -n $(TEST_WORKERS) --dist loadfile

## Heavy checks: larger sizes, multi-process runs.
test-slow: $(STAMP)
	$(PY) -m pytest -m "slow"

test-all: $(STAMP)
	$(PY) -m pytest

## Plant each curated bug of tools/mutants/ in a scratch copy and check that its claims fail;
## prints a table and `mutants: K killed of M` (exit 1 unless every mutant is killed).
mutants: $(STAMP)
	$(PY) -m tools.mutants

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

## Speed and memory, each against a baseline run in the same process.
bench: $(BENCH_STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) report site .cache .pytest_cache
