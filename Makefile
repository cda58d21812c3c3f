# Set-up and the two quick-start jobs. Everything installs into ./.venv from the package
# registries; nothing is downloaded at run time.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STDLIB := $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
DEMO_INDEX ?= .codeguard/demo-index

.PHONY: demo test lint

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The scanner alone (what `make demo` needs).
$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Plus the test tools and what the training/export tests need (torch CPU wheel, transformers).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,mltest]'
	touch $@ $(VENV)/.installed-runtime

# Index the Python standard library installed with the interpreter and a GPL snippet corpus,
# then scan the example project, which holds copies from both. --fail-on none: the demo shows
# the findings without failing make (a real gate exits 1 on the GPL copy).
demo: $(VENV)/.installed-runtime
	$(BIN)/codeguard index add "$(STDLIB)" --name cpython-stdlib --license PSF-2.0 \
		--exclude site-packages --index $(DEMO_INDEX)
	$(BIN)/codeguard index add examples/gpl-snippets --name gpl-snippets --index $(DEMO_INDEX)
	$(BIN)/codeguard scan examples/demo-project --index $(DEMO_INDEX) --fail-on none

test: $(VENV)/.installed-dev
	$(BIN)/pytest -p no:warnings

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check codeguard tests
	$(BIN)/mypy codeguard
