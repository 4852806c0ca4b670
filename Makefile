# One task runner. `make test` is what CI runs (.ci/run).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint typecheck bench clean traces skills docs

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(VENV)/.core $@

## demo: install and distill the bundled example traces (no LLM needed)
demo: $(VENV)/.core
	SKILLFORGE_HOME=.skillforge $(BIN)/skillforge distill traces/ --out out/skills

## traces: regenerate traces/workspace/ with the project's own runner (scripted agent, fixed seed)
traces: $(VENV)/.core
	tmp=$$(mktemp -d) && SKILLFORGE_HOME=$$tmp $(BIN)/skillforge run workspace --agent scripted \
		--episodes 320 --seed 7 --reproducible --export traces/workspace/workspace.jsonl; \
		rc=$$?; rm -rf $$tmp; exit $$rc

## skills: distill traces/ into the example library skills/ (package folders only, no .git)
skills: $(VENV)/.core
	tmp=$$(mktemp -d) && SKILLFORGE_HOME=$$tmp/home $(BIN)/skillforge distill traces/ \
		--out $$tmp/lib > /dev/null; rc=$$?; \
	if [ $$rc -eq 0 ]; then find skills -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +; \
		cp -r $$tmp/lib/*/ skills/; fi; rm -rf $$tmp; exit $$rc

## docs: regenerate docs/cli.md from the commands' --help
docs: $(VENV)/.core
	$(BIN)/python -m skillforge.cli.reference > docs/cli.md

# The train extra: torch is pinned to the CPU build first (a bare `torch` requirement would pull
# a multi-GB CUDA build); transformers and peft then install against it.
$(VENV)/.train: pyproject.toml | $(VENV)/.dev
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,train]'
	touch $@

# The ray extra (distill --executor ray): tests/test_executor_ray.py starts a local Ray
# instance with it. About 18 s and 285 MB on a fresh venv (ray and its ~20 dependencies).
$(VENV)/.ray: pyproject.toml | $(VENV)/.dev
	$(BIN)/python -m pip install -q -e '.[dev,ray]'
	touch $@

## test: install with dev, train and ray extras and run the whole test suite (the CPU
## Skill-SD learning test and the local-Ray executor test included)
test: $(VENV)/.dev $(VENV)/.train $(VENV)/.ray $(VENV)/.browser
	$(BIN)/python -m pytest

# Chromium for the report's browser test (tests/report/test_report_browser.py): Debian's
# package, installed when this runs as root with apt-get. Elsewhere that test skips and says
# why (or use `$(BIN)/playwright install chromium`).
$(VENV)/.browser: | $(VENV)/.dev
	-@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; \
	then apt-get update -qq && apt-get install -y -qq chromium > /dev/null; fi
	touch $@

## test-core: the suite without the train extra (a venv of its own; train tests skip)
test-core:
	$(MAKE) VENV=.venv-core .venv-core/.dev
	.venv-core/bin/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check skillforge tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy skillforge

clean:
	rm -rf $(VENV) .skillforge out
