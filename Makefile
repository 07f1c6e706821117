# panka's developer commands. `make demo` runs the main job, `make test` runs every check.
SHELL := /bin/bash
CARGO ?= cargo
# Builds are shared between clones (CI reuses it): the AWS SDK crates take minutes to compile cold.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/panka/target
PANKA := $(CARGO_TARGET_DIR)/debug/panka
STACK ?= examples/shop

.PHONY: all build test lint fmt fmt-check clippy unit demo emulator-up emulator-down emulator-venv schema docs bench fuzz soak clean

all: build

build:
	$(CARGO) build --workspace

## Every test: formatting, clippy with warnings as errors, unit, snapshot, property and
## emulator tests (moto and LocalStack are installed in venvs and started by the tests themselves).
test: fmt-check clippy emulator-venv unit

unit:
	$(CARGO) test --workspace --no-fail-fast

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

lint: fmt-check clippy

emulator-venv:
	@scripts/moto-venv.sh >/dev/null
	@scripts/localstack-venv.sh >/dev/null

# The demo keeps its state in S3 and its locks in DynamoDB on the emulator, as a team would on AWS.
DEMO_ENV := AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
	PANKA_STATE_BUCKET=panka-demo-state PANKA_LOCK_TABLE=panka-demo-locks
## The main job: build, start the emulator, initialise the backend, publish the payments webhook's
## code, deploy the whole example stack to dev, and show what is running.
## Run it again: the apply is a no-op.
demo: build
	@scripts/emulator.sh start
	@for env in dev staging production; do \
	  echo "== validate $(STACK) / $$env"; \
	  $(PANKA) validate --stack $(STACK) --environment $$env || exit 1; \
	done
	@echo "== backend init: state bucket and lock table on the emulator"
	@$(DEMO_ENV) $(PANKA) backend init --stack $(STACK) --environment dev
	@echo "== publish the payments webhook's code, as a build pipeline would"
	@$(DEMO_ENV) scripts/publish-artifact.sh $(STACK)/src/payments/webhook shop-build-artifacts payments/webhook-1.27.zip
	@echo "== apply $(STACK) / dev: every service and component"
	@$(DEMO_ENV) $(PANKA) apply --stack $(STACK) --environment dev --refresh --auto-approve --policy $(STACK)/policies
	@echo "== status"
	@$(DEMO_ENV) $(PANKA) status --stack $(STACK) --environment dev

## The local AWS on 127.0.0.1:4566: moto server, or LocalStack on the host (no Docker) with
## `make emulator-up EMULATOR=localstack`.
EMULATOR ?= moto
emulator-up:
	@EMULATOR=$(EMULATOR) scripts/emulator.sh start

emulator-down:
	@scripts/emulator.sh stop

## Regenerates docs/schema/ and docs/reference/ from the types (the tests check they are current).
docs:
	PANKA_BLESS=1 $(CARGO) test -p panka-format --test generated_docs
	PANKA_BLESS=1 $(CARGO) test -p panka-cli --test plan plan_schema_is_checked_in
	PANKA_BLESS=1 $(CARGO) test --workspace --lib observed_state_reference_is_current

bench:
	$(CARGO) bench -p panka-format --bench load_validate
	$(CARGO) bench -p panka-plan --bench plan
	$(CARGO) bench -p panka-plan --bench footprint
	$(CARGO) bench -p panka-engine --bench scheduler

## Long reliability runs, not in CI (results in docs/reliability.md): 1,000 trials of 32
## concurrent appliers on shared state, 1,000 SIGKILLs of applies, updates, replaces and
## destroys, and the example stack through the hostile proxy with ten seeds.
SOAK_TRIALS ?= 1000
SOAK_KILLS ?= 1000
SOAK_SEEDS ?= 1 2 3 4 5 6 7 8 9 10
soak: emulator-venv
	PANKA_SOAK_TRIALS=$(SOAK_TRIALS) $(CARGO) test -p panka-deploy --test soak -- --nocapture
	PANKA_SOAK_KILLS=$(SOAK_KILLS) $(CARGO) test -p panka-cli --test hostile killed_runs -- --nocapture
	@for seed in $(SOAK_SEEDS); do \
	  PANKA_SOAK_SEED=$$seed $(CARGO) test -p panka-cli --test hostile the_example_stack -- --nocapture || exit 1; \
	done

fuzz:
	PROPTEST_CASES=20000 $(CARGO) test -p panka-format --release --test robustness -- --nocapture

clean:
	$(CARGO) clean
