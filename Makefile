# The README's commands. Every target installs what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
CFN_LINT_SERVERLESS_VERSION := 0.3.6
CHECKOV_VERSION := 3.3.30
MINISTACK_VENV := .venv-ministack
CHECKOV_VENV := .venv-checkov
# make bench compares with Cloud Custodian: its own virtualenv, its own pinned boto3.
C7N_VENV := .venv-c7n
C7N_VERSION := 0.9.53
# sam build for the python3.12 runtime needs python3.12 on PATH (pyenv on this image has it).
# (The first candidate that really runs: pyenv's shim answers even when 3.12 is not active.)
PY312 := $(firstword $(foreach candidate,$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null),$(shell $(candidate) -c pass >/dev/null 2>&1 && echo $(candidate))))

.PHONY: install demo test lint typecheck unit schema invoke local-up local-down deploy approve redrive bench clean

$(VENV)/.installed: requirements-dev.txt layers/remediation/requirements.txt pyproject.toml
	@echo "==> installing the project's dependencies and its command line in $(VENV) (first run: about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --editable .
	touch $@

## make install: .venv with the project's one command line, .venv/bin/printapp-remediation (invoke, approve, redrive, replay)
install: $(VENV)/.installed
	@echo "installed: $(VENV)/bin/printapp-remediation (try: $(VENV)/bin/printapp-remediation --help)"

# aws-sam-cli pins its own boto3: it lives in its own virtualenv, like a tool.
$(SAM_VENV)/.installed:
	@echo "==> installing aws-sam-cli $(SAM_CLI_VERSION) and cfn-lint-serverless in $(SAM_VENV) (first run: about 90 s)"
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint-serverless==$(CFN_LINT_SERVERLESS_VERSION)
	touch $@

# checkov (the template's security checks) pins its own dependencies: a virtualenv of its own.
$(CHECKOV_VENV)/.installed:
	@echo "==> installing checkov $(CHECKOV_VERSION) in $(CHECKOV_VENV) (first run: about a minute)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

# The local AWS (ministack) runs the functions with its own interpreter: python3.12, like their
# runtime, so the layer's compiled wheels (pydantic-core) load. It pins botocore; boto3 to match.
$(MINISTACK_VENV)/.installed:
	@test -n "$(PY312)" || { echo "python3.12 is needed for the local AWS (pyenv install 3.12)"; exit 1; }
	@echo "==> installing the local AWS emulator (ministack) in $(MINISTACK_VENV) (first run: about a minute)"
	$(PY312) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --upgrade pip
	$(MINISTACK_VENV)/bin/pip install --quiet ministack==1.5.33 boto3==1.43.106 botocore==1.43.106 aws-sam-translator==1.115.0
	touch $@

## make demo: deploy the real template to a local AWS and play the runbook end to end
demo: $(VENV)/.installed $(SAM_VENV)/.installed $(MINISTACK_VENV)/.installed
	$(VENV)/bin/python tools/demo.py

## make test: lint, type-check and the whole suite (unit, template, end-to-end)
test: $(VENV)/.installed $(SAM_VENV)/.installed $(MINISTACK_VENV)/.installed $(CHECKOV_VENV)/.installed lint typecheck
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

## make unit: the fast part of the suite
unit: $(VENV)/.installed
	$(VENV)/bin/pytest -m "not e2e and not tooling and not sweep"

## make schema: generate the audit event schema (schemas/, template.yaml) and the README's settings table from the code (tests check they match)
schema: $(VENV)/.installed
	PYTHONPATH=layers/remediation:tools $(VENV)/bin/python tools/audit_schema.py
	PYTHONPATH=layers/remediation:tools $(VENV)/bin/python tools/settings_table.py

# While `make local-up` runs, invoke and approve talk to that local AWS.
LOCAL_ENV := $(wildcard .local/up/env)
USE_LOCAL_ENV := $(if $(LOCAL_ENV),set -a; . ./$(LOCAL_ENV); set +a; echo "(talking to the local AWS of make local-up)" >&2;)

## make invoke: run one function of template.yaml on an event, in-process, no Docker (FUNCTION=... EVENT=... [ARGS=...])
invoke: $(VENV)/.installed
	@$(USE_LOCAL_ENV) $(VENV)/bin/printapp-remediation invoke $(FUNCTION) $(EVENT) $(ARGS)

## make local-up: keep a local AWS running with the stack and the app's stand-ins deployed (make local-down stops it)
local-up: $(VENV)/.installed $(SAM_VENV)/.installed $(MINISTACK_VENV)/.installed
	$(VENV)/bin/python tools/local_stack.py up

local-down: $(VENV)/.installed
	$(VENV)/bin/python tools/local_stack.py down

## make deploy: build and deploy ENV=dev|prod with samconfig.toml; starts in dry-run, LIVE=1 goes live (REST_API_ID=... when the API's name is not unique)
deploy: $(VENV)/.installed $(SAM_VENV)/.installed
	@test -n "$(ENV)" || { echo "make deploy needs ENV=dev or ENV=prod (samconfig.toml's environments)"; exit 2; }
	$(VENV)/bin/python tools/deploy.py --env $(ENV) $(if $(LIVE),--live) $(if $(REST_API_ID),--rest-api-id $(REST_API_ID)) $(ARGS)

## make approve: approve a waiting change as yourself (DECISION_ID=<the Approval Requested decisionId> [STACK=...])
approve: $(VENV)/.installed
	@$(USE_LOCAL_ENV) $(VENV)/bin/printapp-remediation approve $(DECISION_ID) --stack-name $(or $(STACK),printapp-remediation)

## make redrive: hand a function's dead letters back to it once the cause is fixed (FUNCTION=DbCpuHandlerFunction [STACK=...])
redrive: $(VENV)/.installed
	@$(USE_LOCAL_ENV) $(VENV)/bin/printapp-remediation redrive $(FUNCTION) --stack-name $(or $(STACK),printapp-remediation)

$(C7N_VENV)/.installed:
	@echo "==> installing Cloud Custodian $(C7N_VERSION) in $(C7N_VENV), for comparison"
	$(PYTHON) -m venv $(C7N_VENV)
	$(C7N_VENV)/bin/pip install --quiet --upgrade pip
	$(C7N_VENV)/bin/pip install --quiet c7n==$(C7N_VERSION)
	touch $@

## make bench: cold start, AWS calls per decision, warm time, an alarm storm, the layer size and the closed loop's timing → docs/BENCHMARKS.md
bench: $(VENV)/.installed $(SAM_VENV)/.installed $(C7N_VENV)/.installed $(MINISTACK_VENV)/.installed
	$(VENV)/bin/python bench/run.py --c7n-python $(C7N_VENV)/bin/python --output docs/BENCHMARKS.md

clean:
	rm -rf $(VENV) $(SAM_VENV) $(MINISTACK_VENV) $(CHECKOV_VENV) $(C7N_VENV) .aws-sam .local out .pytest_cache .mypy_cache .ruff_cache
