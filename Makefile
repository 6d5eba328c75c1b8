# Every set-up step lives here: a fresh clone needs only python3 (3.11+), node and npm.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test test-fast lint bench smoke synth install clean

dev: $(VENV)/.installed ## Run the whole stack locally (localgw + simulated upstream) in the foreground
	$(PY) -m localgw $(ARGS)

test: $(VENV)/.installed node_modules/.installed $(CHROMIUM) ## Lint and run the whole test suite
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.installed ## The inner loop: ruff and the unit tests (pure, no network; seconds)
	$(PY) -m ruff check .
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed ## Delivery benchmark against localgw: prints a table, writes bench/results.json and a plot
	$(PY) -m bench $(ARGS)

smoke: $(VENV)/.installed ## Check a deployed stack end to end (its outputs, a temporary Cognito user), or URL=ws://127.0.0.1:8080/dev
	$(PY) -m smoke $(if $(URL),--url '$(URL)') $(ARGS)

synth: $(VENV)/.installed node_modules/.installed ## Synthesize the CloudFormation template with the real CDK CLI
	npx cdk synth --quiet $(ARGS)

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt lambdas/requirements.txt lambdas/requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

# The browser tests (tests/web) drive Debian's Chromium through Playwright: Playwright's own browser download
# cannot run here. Installed only when missing (root, or sudo).
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive sh -c \
		'apt-get update -qq && apt-get install -y -qq chromium'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .ruff_cache
