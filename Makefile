# eCPA人事服務網 — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/.tools/node_modules/.bin:$(PATH)

ECPA_DATABASE_URL ?= sqlite://data/ecpa.db
ECPA_LISTEN ?= 127.0.0.1:3000
export ECPA_DATABASE_URL ECPA_LISTEN

.PHONY: setup run dev build build-debug test lint fmt-check clippy unit e2e bench-import clean demo-cards fuzz load

## Install every tool the project needs (idempotent; fast when all is present).
setup:
	@scripts/setup.sh

## Build in release, create/migrate the SQLite database, seed demo data when new, start the
## simulated cards and the card agent (see demo-cards), serve.
run: setup build
	@scripts/demo-cards.sh || echo "warning: simulated cards not started; certificate sign-in is unavailable (password sign-in works)"
	ECPA_SITE_ROOT=target/site ECPA_CARD_PKI_DIR=$(CURDIR)/data/cards/pki target/release/ecpa-server serve --demo-if-empty

## Simulated cards in virtual readers + the card agent, for trying certificate sign-in.
demo-cards: setup
	@scripts/demo-cards.sh

## Live-reloading development server.
dev: setup
	cargo leptos watch

build:
	cargo leptos build --release

build-debug:
	cargo leptos build

## The whole suite: formatting, lints, unit + integration tests (SQLite and a throw-away
## PostgreSQL), and the browser tests.
test: fmt-check clippy build-debug unit e2e

lint: fmt-check clippy

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p ecpa-app --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

unit:
	scripts/with-postgres.sh cargo nextest run --workspace --exclude ecpa-e2e --no-fail-fast

e2e: build-debug
	cargo build -p hsm-sim -p ecpa-agent
	cargo test -p ecpa-e2e --test e2e

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
