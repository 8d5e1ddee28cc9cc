# ClubHoloHub — the two commands: `make run` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.clubhub-installed

.PHONY: install run test bench-chat bench-ranking services-up services-down clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

run: install
	$(BIN)/clubhub run

test: install
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
	rm -rf $(VENV) .clubhub *.egg-info .pytest_cache
