# panka's developer commands. `make demo` runs the main job, `make test` runs every check.
SHELL := /bin/bash
CARGO ?= cargo
# Builds are shared between clones (CI reuses it): the AWS SDK crates take minutes to compile cold.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/panka/target
PANKA := $(CARGO_TARGET_DIR)/debug/panka
STACK ?= examples/shop

.PHONY: all build test lint fmt fmt-check clippy unit demo emulator-up emulator-down emulator-venv schema docs bench fuzz clean

all: build

build:
	$(CARGO) build --workspace

## Every test: formatting, clippy with warnings as errors, unit, snapshot, property and
## emulator tests (moto is installed in a venv and started by the tests themselves).
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

emulator-up:
	@scripts/emulator.sh start

emulator-down:
	@scripts/emulator.sh stop

## Regenerates docs/schema/ and docs/reference/ from the types (the tests check they are current).
docs:
	PANKA_BLESS=1 $(CARGO) test -p panka-format --test generated_docs
	PANKA_BLESS=1 $(CARGO) test -p panka-cli --test plan plan_schema_is_checked_in

bench:
	$(CARGO) bench -p panka-format --bench load_validate
	$(CARGO) bench -p panka-plan --bench plan
	$(CARGO) bench -p panka-plan --bench footprint
	$(CARGO) bench -p panka-engine --bench scheduler

fuzz:
	PROPTEST_CASES=20000 $(CARGO) test -p panka-format --release --test robustness -- --nocapture

clean:
	$(CARGO) clean
