# The two commands of the README: `make run` (local cluster with demo data) and `make test`.
CLUSTER_DIR ?= .cluster
CITIES ?= Karachi,Lahore

.PHONY: run test lint fmt bench down deps fuzz

deps:
	@bash scripts/ensure-deps.sh

run:
	@bash scripts/ensure-deps.sh --no-browser
	@echo "Building the services (the first time takes a few minutes)..."
	@cargo build -q --workspace --bins
	@cargo run -q -p posctl -- up --dir $(CLUSTER_DIR) --cities $(CITIES) --demo-data

down:
	cargo run -q -p posctl -- down --dir $(CLUSTER_DIR)

test: deps
	cargo test --workspace

fuzz:
	bash scripts/fuzz-api.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench: deps
	cargo bench -p pos-e2e --bench replication
	cargo bench -p pos-e2e --bench checkout
	cargo bench -p pos-e2e --bench reports
	cargo bench -p pos-e2e --bench catch_up
