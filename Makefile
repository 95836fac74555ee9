# pushbus: the README's two commands are `make demo` and `make test`.
# Every target installs nothing by itself beyond what cargo fetches; .ci/run
# prepares a fresh machine first.

CARGO ?= cargo
# Loom builds the crate with `--cfg loom`: a separate target dir keeps the
# normal build's artifacts valid.
LOOM_TARGET ?= target/loom

.PHONY: all build demo test lint unit loom doc bench bench-full clean

all: build

build:
	$(CARGO) build --release

## The main job. Until the chat servers exist (issue 6) it runs the Rust
## quick-start demo: fan-out, resume from a key, and a gap, printed.
demo:
	$(CARGO) run --release --example quickstart

## Every test: formatting, lints, unit/integration/property/stress tests,
## doc tests, rustdoc warnings, and the loom model of the wake-up protocol.
test: lint unit doc loom

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(LOOM_TARGET) $(CARGO) test --release --lib loom_model

## Benchmarks: a short run by default; bench-full measures longer.
bench:
	$(CARGO) bench

bench-full:
	PUSHBUS_BENCH_FULL=1 $(CARGO) bench

clean:
	$(CARGO) clean
