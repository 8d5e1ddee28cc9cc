# ClubHoloHub — the two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.clubhub-installed
# Every Python dependency, pinned with its hashes (make lock regenerates it from setup.cfg).
LOCK   := requirements/lock.txt
# The runtime dependencies alone, for the container image (deploy/docker/Dockerfile).
RUNTIME_LOCK := requirements/runtime.txt

# The web client: built with npm when web/dist is missing or older than its sources.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) $(wildcard web/index.html web/vite.config.ts web/tsconfig*.json)
WEB_DEPS    := web/node_modules/.package-lock.json
WEB_DIST    := web/dist/index.html
# The end-to-end tests drive Debian's Chromium (no browser download), installed when missing with an emoji font.
SUDO        := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: install lock lint api-types run test test-cluster test-unit web web-test chromium janus deploy-tools deploy-check dashboards image bench-chat bench-ranking bench-notify bench-pipeline bench-search bench-stores bench-media bench-audio capacity soak loadtest fuzz services-up services-down clean

install: $(STAMP) web

web: $(WEB_DIST)

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_DEPS)

$(WEB_DIST): $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run build --silent

web-test: $(WEB_DEPS)
	cd web && npm test --silent

# Live-session audio's media server (Debian's Janus WebRTC Server): embedded by `clubhub services up` when
# installed. `make run` installs it too (live sessions can be heard); without it they say audio is unavailable.
janus:
	@command -v janus >/dev/null \
		|| $(SUDO) apt-get install -y -q janus >/dev/null \
		|| ($(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q janus >/dev/null)

chromium:
	@(command -v chromium >/dev/null && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1) \
		|| $(SUDO) apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null \
		|| ($(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null)

# The locked set first (pip refuses any file whose hash is not in the lock), then the project alone;
# pip check fails when setup.cfg asks for something the lock lacks (run make lock).
$(STAMP): $(LOCK) setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolve the locks after a change to setup.cfg, keeping every pin that still fits; LOCK_ARGS takes
# uv options such as --upgrade or --upgrade-package NAME. For Python 3.11 on Linux x86_64.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet 'uv>=0.5,<1'
	$(BIN)/uv pip compile setup.cfg --extra test --extra dev --generate-hashes --no-strip-markers \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' \
		--quiet -o $(LOCK) $(LOCK_ARGS)
	$(BIN)/uv pip compile setup.cfg --generate-hashes --no-strip-markers \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' \
		--quiet -o $(RUNTIME_LOCK) $(LOCK_ARGS)

# The gates, fastest first: ruff (rules and formatting), the layer contracts (import-linter), mypy with the
# pydantic plugin, bandit, the web client's ESLint, tsc and generated API types, then the advisory audits
# (skipped, saying why, where their database cannot be reached). Rules and exceptions: [tool.ruff],
# [tool.mypy], [tool.importlinter] and [tool.bandit] in pyproject.toml, requirements/audit-ignore.txt.
lint: $(STAMP) $(WEB_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r actors gateway storage ranking --severity-level medium
	$(BIN)/clubhub openapi --out build/openapi.json
	cd web && npm run --silent lint && npm run --silent typecheck && npm run --silent check:api
	$(BIN)/python .ci/audit.py

# Regenerate the web client's API types (web/src/lib/api-types.ts) after a change to a REST schema.
api-types: $(STAMP) $(WEB_DEPS)
	$(BIN)/clubhub openapi --out build/openapi.json
	cd web && npm run --silent gen:api

# The linters make deploy-check needs beyond the venv: Debian's promtool and prometheus (package prometheus;
# its service is not started: tests/integration/test_prometheus.py runs the binary on a loopback port of its
# own) and the npm-only compose and workflow linters in deploy/tools; and a container engine for the image
# test (podman where no Docker engine answers).
PODMAN_PACKAGES := podman buildah runc catatonit mmdebstrap
DEPLOY_NPM := deploy/tools/node_modules/.package-lock.json
$(DEPLOY_NPM): deploy/tools/package.json deploy/tools/package-lock.json
	cd deploy/tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(DEPLOY_NPM)

deploy-tools: $(STAMP) $(DEPLOY_NPM)
	@(command -v promtool >/dev/null && command -v prometheus >/dev/null) \
		|| $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null \
		|| ($(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null)
	@docker info >/dev/null 2>&1 || command -v podman >/dev/null \
		|| $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(PODMAN_PACKAGES) >/dev/null \
		|| ($(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(PODMAN_PACKAGES) >/dev/null) \
		|| echo "deploy-tools: podman cannot be installed here; tests/deploy/test_image.py will be skipped"

# Rewrite the Grafana dashboards (deploy/observability/grafana/dashboards) from deploy/observability/dashboards.py;
# make deploy-check fails while the committed JSON differs from what it writes.
dashboards: $(STAMP)
	$(BIN)/python deploy/observability/dashboards.py

# Every deployment artifact validated offline (deploy/check.py runs deploy/checks/*.py); non-zero on any finding.
deploy-check: deploy-tools
	$(BIN)/python deploy/check.py $(DEPLOY_CHECK_ARGS)

# The container image clubholohub:<version> (podman, or docker where an engine answers); bases are pulled, or
# built from Debian packages with mmdebstrap where no registry answers. The Dockerfile builds the web client.
image:
	bash deploy/docker/build.sh

run: install janus
	$(BIN)/clubhub run

# SIGINT after TEST_DEADLINE: pytest then prints where it was stuck and its summary so far, well before
# CI's own limit cuts the log off. The slowest tests are listed at the end: CI time is a budget.
TEST_DEADLINE ?= 60m
test: install chromium janus web-test deploy-tools
	timeout --signal=INT --kill-after=2m $(TEST_DEADLINE) $(BIN)/python -m pytest --durations=25

# The multi-node test alone (make test runs it too): a head, two worker nodes and two gateways on this
# machine; SIGKILLs a node mid-stream (~2 min quiet).
test-cluster: install
	$(BIN)/python -m pytest -m cluster -s tests/integration/test_cluster.py

# The pure tier alone (no service, no Ray, no browser): seconds.
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

# Redis PUBLISH/XADD and the embedded MongoDB-wire server's insert_many, one process each (short runs);
# BENCH_ARGS="--mongo-url mongodb://..." measures a real MongoDB instead.
bench-stores: install
	$(BIN)/python loadtest/bench_stores.py $(BENCH_ARGS)

# The capacity model: regenerate docs/scaling.md's table from loadtest/results/*.json and print it.
capacity: $(STAMP)
	$(BIN)/python loadtest/capacity.py --write docs/scaling.md
	$(BIN)/python loadtest/capacity.py

bench-chat: install
	$(BIN)/python loadtest/bench_chat.py $(BENCH_ARGS)

bench-ranking: install
	$(BIN)/python loadtest/bench_ranking.py $(BENCH_ARGS)

# The offline pipeline at 1M and 10M synthetic interactions on one and two Ray nodes, and the model switch's
# cost against the history's size (~20 min here).
bench-notify: install
	$(BIN)/python loadtest/bench_notify.py $(BENCH_ARGS)

bench-pipeline: install
	$(BIN)/python loadtest/bench_pipeline.py $(BENCH_ARGS)

# Message search over 1,000,000 messages of the seeded world: indexing, query p50/p99 against an ILIKE scan,
# index lag through a real gateway (~5 min here); BENCH_ARGS="--messages 100000" for a short run.
bench-search: install
	$(BIN)/python loadtest/bench_search.py $(BENCH_ARGS)

# Media processing on this machine: seconds of processing per second of 1080p/720p video (libx264 presets
# against a decode-only floor) and images per second (~2 min here); BENCH_ARGS="--seconds 5" for a short run.
bench-media: install
	$(BIN)/python loadtest/bench_media.py $(BENCH_ARGS)

# Live audio on Janus: one session (host + 3 speakers) and a ladder of aiortc listeners, Streaming relay
# against everyone-in-one-AudioBridge (~2–3 min here); BENCH_ARGS="--quick" for a short run (< 1 min).
bench-audio: install
	$(BIN)/python loadtest/bench_audio.py $(BENCH_ARGS)

# 30 minutes at half load; not part of make test. SOAK_ARGS="--minutes 2" for a short run.
soak: install
	$(BIN)/python loadtest/soak.py $(SOAK_ARGS)

# A local stack, a seeded world sized to LOADTEST_USERS, every Locust persona headless (LOADTEST_USERS,
# LOADTEST_SPAWN_RATE, LOADTEST_DURATION, LOADTEST_MAX_FAILURE_PCT, LOADTEST_LOCUST_WORKERS); reports under
# loadtest/results/locust/.
loadtest: install
	$(BIN)/python loadtest/run_locust.py $(LOADTEST_ARGS)

services-up: install
	$(BIN)/clubhub services up

services-down: install
	$(BIN)/clubhub services down

clean:
	-$(BIN)/clubhub services down
	rm -rf $(VENV) .clubhub *.egg-info .pytest_cache web/node_modules web/dist

# Nightly-sized API fuzzing: Schemathesis over every operation until at least FUZZ_CASES cases ran (not in make test).
FUZZ_CASES ?= 10000
fuzz: install
	CLUBHUB_FUZZ_CASES=$(FUZZ_CASES) $(BIN)/python -m pytest tests/integration/test_fuzz_api.py -s -q
