# The two commands a new user needs:
#   make run    builds and starts all four adapters on loopback with the sandbox providers
#   make test   runs every check and test (installs the tools it needs by itself)

CARGO ?= cargo
export CARGO_INCREMENTAL ?= 0

.PHONY: run build build-all test fmt fmt-check clippy lint buf-lint buf-format unit helm-check \
        contract-check bench bench-quick clean

run: build
	bash scripts/run-local.sh

build:
	$(CARGO) build --workspace --bins

# Binaries and tests in one build: building them apart would compile the shared dependencies
# twice, once with and once without the features that test-only dependencies switch on.
build-all:
	$(CARGO) build --workspace --all-targets

test: fmt-check buf-lint clippy build-all unit helm-check bench-quick
	@echo "make test: every check passed"

fmt:
	$(CARGO) fmt --all
	bash scripts/buf.sh format

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

buf-lint:
	bash scripts/buf.sh lint

unit: build-all
	if $(CARGO) nextest --version >/dev/null 2>&1; then $(CARGO) nextest run --workspace --no-fail-fast; else $(CARGO) test --workspace; fi
	$(CARGO) test --workspace --doc

helm-check:
	bash scripts/helm-check.sh

# Checks the requests our provider clients build against the providers' published OpenAPI
# descriptions with Prism. Needs ../shared/specs, which a fresh clone does not have.
contract-check:
	bash scripts/contract-check.sh

# The benchmark suite (see crates/bench): a few minutes, report in target/bench/report.md and
# report.json. It drives the real adapter binaries, so they are built (release) first.
bench:
	$(CARGO) build --release -p integ-payments -p integ-bench --bins
	"$${CARGO_TARGET_DIR:-target}/release/integ-bench" --out target/bench

bench-quick:
	bash scripts/bench-quick.sh

clean:
	$(CARGO) clean
