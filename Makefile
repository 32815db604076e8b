# eCPA人事服務網 — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/.tools/node_modules/.bin:$(PATH)

ECPA_DATABASE_URL ?= sqlite://data/ecpa.db
ECPA_LISTEN ?= 127.0.0.1:3000
export ECPA_DATABASE_URL ECPA_LISTEN

.PHONY: setup run dev build build-debug test lint fmt fmt-check deps-check deny clippy page-weight bench-ssr unit e2e bench-import clean demo-cards fuzz load real-stack-loop dev-reload

## Install every tool the project needs (idempotent; fast when all is present).
setup:
	@scripts/setup.sh

## Build in release, create/migrate the SQLite database, seed demo data when new, start the
## simulated cards and the card agent (see demo-cards), serve. Ctrl-C stops the portal and
## what it started for the demo (cards, agent, pcscd).
run: setup build
	@scripts/run.sh run

## Simulated cards in virtual readers + the card agent, for trying certificate sign-in.
demo-cards: setup
	@scripts/demo-cards.sh

## Live-reloading development server with demo data (DEV_CARDS=1: simulated cards too).
dev: setup
	@scripts/run.sh dev

build:
	cargo leptos build --release --precompress

build-debug:
	cargo leptos build

## The whole suite: formatting, lints, unit + integration tests (SQLite and a throw-away
## PostgreSQL), and the browser tests.
test: fmt-check clippy deps-check deny build-debug page-weight unit e2e dev-reload

lint: fmt-check clippy deps-check deny

## No dependency declared and unused (cargo-machete, installed by `make setup`).
deps-check:
	.tools/bin/cargo-machete

## Licences, bans, sources and RustSec advisories (cargo-deny and the database `make setup`
## keeps in .tools; nothing is fetched here).
deny:
	scripts/deny.sh

## Formats everything (leptosfmt for the view! macros, then rustfmt).
fmt:
	.tools/bin/leptosfmt app/src e2e
	cargo fmt --all

## rustfmt, and leptosfmt for the view! macros rustfmt does not touch.
fmt-check:
	cargo fmt --all -- --check
	.tools/bin/leptosfmt --check app/src e2e

clippy:
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p ecpa-app --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

unit:
	scripts/with-postgres.sh cargo nextest run --workspace --exclude ecpa-e2e --no-fail-fast

## What the home page ships (brotli, release build) stays within its budget.
page-weight:
	scripts/page-weight.sh

## The home page from the portal against nginx serving the same bytes (wrk), and the
## page weight (docs/benchmarks.md).
bench-ssr: build
	scripts/bench-ssr.sh

## `make dev` serves and hot-reloads (a style and a page changed, the change served).
dev-reload: build-debug
	scripts/test-dev.sh

e2e: build-debug
	cargo build -p hsm-sim -p ecpa-agent
	cargo test -p ecpa-e2e --test e2e

## The real card stack tests (agent and hsm-sim, each with its own pcscd) RUNS times in a
## row (default 20): the figure of record for "never hangs" (not part of `make test`).
RUNS ?= 20
real-stack-loop: setup
	cargo nextest run -p ecpa-agent -p hsm-sim --no-run
	@pass=0; for i in $$(seq 1 $(RUNS)); do \
	  if cargo nextest run -p ecpa-agent -p hsm-sim -E 'binary(real_stack) | binary(cli) | binary(compat)' --no-fail-fast >target/real-stack-run-$$i.log 2>&1; then \
	    pass=$$((pass+1)); echo "run $$i: passed"; \
	  else echo "run $$i: FAILED (target/real-stack-run-$$i.log)"; fi; \
	done; echo "real-stack-loop: $$pass passed, $$(( $(RUNS) - pass )) failed"; test $$pass -eq $(RUNS)

## Fuzzing (not part of `make test`): every cargo-fuzz target for FUZZ_SECONDS each.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= apdu agent_package cert_profile proof_token personnel_csv
fuzz: setup
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

## Load test (not part of `make test`): release portal, 60 s, figures in docs/benchmarks.md.
LOAD_ARGS ?=
load: setup build
	cargo build --release -p ecpa-load
	target/release/ecpa-load $(LOAD_ARGS)

## Importer benchmark (not part of `make test`): 1,000,000 rows into SQLite and PostgreSQL.
bench-import: setup
	cargo build --release -p ecpa-server
	scripts/bench-import.sh $(or $(ROWS),1000000)

clean:
	cargo clean
