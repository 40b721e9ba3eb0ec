# The README's commands. Every target installs what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
# sam build for the python3.12 runtime needs python3.12 on PATH (pyenv on this image has it).
PY312 := $(shell command -v python3.12 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -n 1)

.PHONY: test lint typecheck unit schema clean

$(VENV)/.installed: requirements-dev.txt layers/remediation/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# aws-sam-cli pins its own boto3: it lives in its own virtualenv, like a tool.
$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

## make test: lint, type-check and the whole suite (unit, template, end-to-end)
test: $(VENV)/.installed $(SAM_VENV)/.installed lint typecheck
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

## make unit: the fast part of the suite
unit: $(VENV)/.installed
	$(VENV)/bin/pytest -m "not e2e and not tooling"

## make schema: copy schemas/audit-event.schema.json into template.yaml (a test checks they match)
schema: $(VENV)/.installed
	$(VENV)/bin/python tools/embed_schema.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
