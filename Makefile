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

# Every benchmark program (all built first, in one go), then BENCHMARKS.md from their figures (about
# 15 minutes on 2 cores once built). The catch-up program runs one 60-s outage and a 300,000-customer
# resync here (its defaults take longer).
bench: deps
	rm -rf "$${CARGO_TARGET_DIR:-target}/bench-results"
	cargo build --release --bins
	cargo bench -p pos-e2e --no-run
	cargo bench -p pos-e2e --bench checkout
	cargo bench -p pos-e2e --bench till_lookup
	cargo bench -p pos-e2e --bench outbox
	cargo bench -p pos-e2e --bench replication
	POS_BENCH_OUTAGES=60 POS_BENCH_RESYNC_CUSTOMERS=300000 cargo bench -p pos-e2e --bench catch_up
	cargo bench -p pos-e2e --bench reports
	cargo bench -p pos-e2e --bench scale
	cargo run -q --release -p pos-e2e --bin benchmarks-md
