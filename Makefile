# paircert: every target bootstraps what it needs (venv, pip packages, system packages) itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.paircert-installed
PYTEST_ARGS ?=

# Python caches bytecode here even where the environment says not to: the tests start a few hundred Python
# processes (paircert run, its pytest workers, the self-check's runners, lab clouds and devices), and each would
# otherwise compile the harness, and pytest rewrite every suite module, from source again.
unexport PYTHONDONTWRITEBYTECODE
# One Hypothesis directory for every process of the tests, wherever it starts: Hypothesis reads the constants of
# every local module (the whole harness, in an editable install) once per process and caches them there.
export HYPOTHESIS_STORAGE_DIRECTORY ?= $(CURDIR)/.hypothesis

.PHONY: all test lint types pytest bench demo dist sysdeps venv clean mosquitto chromium bluez mutation

all: test

# The venv is rebuilt only when pyproject.toml changes: a second `make test` skips straight to the checks.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# libzbar0 is the system library behind pyzbar; iproute2 (ip netns, veth) carries the real-network tests;
# tcpdump compiles the packet captures' port filters for the kernel (without it every frame on the interface is
# read and filtered in Python, and a busy loopback overflows the socket's buffer).
# Installed with apt when we are root; otherwise say exactly what to run.
sysdeps:
	@bash scripts/sysdeps.sh libzbar0 iproute2 tcpdump

mosquitto:
	@bash scripts/sysdeps.sh mosquitto

chromium:
	@bash scripts/sysdeps.sh chromium

# BlueZ and btvirt for the bleak adapter's integration test (two virtual controllers on hci_vhci).
bluez:
	@bash scripts/sysdeps.sh bluez bluez-test-tools kmod

lint: $(STAMP)
	$(BIN)/ruff check harness suites tests benchmarks examples

types: $(STAMP)
	$(BIN)/mypy --strict harness

# Chromium is optional: the test that opens report.html in a headless browser skips without it.
# --dist loadfile keeps each test module on one worker. The modules go out in tests/conftest.py's order
# (--no-loadscope-reorder: xdist would otherwise hand out the modules with the most tests first), so the self-check
# and the real-path tests start at once. One worker more than cores: the self-check's worker only drives its runner
# pool and the real-path tests mostly wait for a camera process on real time, so the others keep the cores busy.
# (loadgroup would do for xdist_group marks, but pytest-xdist 3.8 cannot tag pytest 9's node ids with the group.)
XDIST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
pytest: $(STAMP) sysdeps
	@bash scripts/sysdeps.sh chromium || echo "chromium is missing: the report's browser test will skip"
	@if [ -e /dev/vhci ] || zgrep -qs '^CONFIG_BT_HCIVHCI=' /proc/config.gz; then \
		bash scripts/sysdeps.sh bluez bluez-test-tools kmod || echo "BlueZ is missing: the BlueZ test will skip"; fi
	$(BIN)/python -m pytest tests -n $(XDIST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# mypy (about 13 s from a fresh clone, no cache yet) runs beside pytest, whose workers leave CPU free while they wait.
test: $(STAMP) sysdeps lint
	@$(MAKE) --no-print-directory -j2 types pytest

# wrk is the external load generator of the cloud benchmark (the servers and the load in separate processes).
bench: $(STAMP) sysdeps
	@bash scripts/sysdeps.sh wrk
	$(BIN)/python -m benchmarks

# Mutation testing of the emulator's rules (tests/mutation/campaign.py): bounded and resumable, never part of
# `make test`. MUTATION_ARGS, e.g. --modules 'harness/model/*' --limit 40 --time 600 --jobs 2.
MUTATION_ARGS ?= --time 3600 --jobs 2
mutation: $(STAMP) sysdeps
	$(BIN)/python tests/mutation/campaign.py $(MUTATION_ARGS)

demo: $(STAMP) sysdeps
	$(BIN)/paircert run --profile camera-strong --fuzz-budget ci -n auto

# The sdist and the wheel (suites/, profiles/ and the requirement catalogue inside, see setup.py) in dist/,
# both checked with twine; the version is pyproject.toml's.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis mutants dist build *.egg-info
