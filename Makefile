# Set-up and the two quick-start jobs. Everything installs into ./.venv from the package
# registries; nothing is downloaded at run time.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STDLIB := $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
DEMO_INDEX ?= .codeguard/demo-index

.PHONY: demo test lint bench

$(BIN)/codeguard: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,mltest]'
	touch $@

# Index the Python standard library installed with the interpreter and a GPL snippet corpus,
# then scan the example project, which holds copies from both. --fail-on none: the demo shows
# the findings without failing make (a real gate exits 1 on the GPL copy).
demo: $(BIN)/codeguard
	$(BIN)/codeguard index add "$(STDLIB)" --name cpython-stdlib --license PSF-2.0 \
		--exclude site-packages --index $(DEMO_INDEX)
	$(BIN)/codeguard index add examples/gpl-snippets --name gpl-snippets --index $(DEMO_INDEX)
	$(BIN)/codeguard scan examples/demo-project --index $(DEMO_INDEX) --fail-on none

test: $(BIN)/codeguard
	$(BIN)/pytest

lint: $(BIN)/codeguard
	$(BIN)/ruff check codeguard tests
	$(BIN)/mypy codeguard
