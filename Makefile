# vitkit: `make demo` runs the paper's pipeline in miniature; `make test` runs the whole suite.
# Both set up everything first: a virtual environment (.venv) with pinned torch, and the built-in data.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.vitkit-installed
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test fast lint setup data browser bench clean

setup: $(STAMP) data

$(STAMP): pyproject.toml setup.py src/vitkit/runtime/_mkl_amd.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# fashion-mnist comes from Debian's package; without root the library falls back to a download.
data:
	@if [ ! -d $(FMNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	fi

# Debian's chromium for the web-page test of `vitkit serve` (Playwright drives it; without it that test skips)
browser:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# what CI runs: the linter, the formatter's check and the type checker first, then every test (slow ones included)
test: setup browser lint
	$(PY) -m pytest -q

# quick local runs: the tests not marked slow (the whole suite still runs in CI)
fast: setup lint
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts
	$(PY) -m mypy

demo: setup
	$(VENV)/bin/vitkit demo

clean:
	rm -rf $(VENV) runs .pytest_cache
