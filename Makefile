# ClubHoloHub — the two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.clubhub-installed

# The web client: built with npm when web/dist is missing or older than its sources.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) $(wildcard web/index.html web/vite.config.ts web/tsconfig*.json)
WEB_DEPS    := web/node_modules/.package-lock.json
WEB_DIST    := web/dist/index.html
# The end-to-end tests drive Debian's Chromium (no browser download), installed when missing with an emoji font.
SUDO        := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: install run test web web-test chromium bench-chat bench-ranking services-up services-down clean

install: $(STAMP) web

web: $(WEB_DIST)

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_DEPS)

$(WEB_DIST): $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run build --silent

web-test: $(WEB_DEPS)
	cd web && npm test --silent

chromium:
	@(command -v chromium >/dev/null && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1) \
		|| $(SUDO) apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null \
		|| ($(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

run: install
	$(BIN)/clubhub run

test: install chromium web-test
	$(BIN)/python -m pytest

bench-chat: install
	$(BIN)/python loadtest/bench_chat.py $(BENCH_ARGS)

bench-ranking: install
	$(BIN)/python loadtest/bench_ranking.py $(BENCH_ARGS)

services-up: install
	$(BIN)/clubhub services up

services-down: install
	$(BIN)/clubhub services down

clean:
	-$(BIN)/clubhub services down
	rm -rf $(VENV) .clubhub *.egg-info .pytest_cache web/node_modules web/dist
