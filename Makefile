# pushbus: the README's two commands are `make demo` and `make test`.
# .ci/run prepares a fresh machine (system packages) and runs `make test`.

CARGO ?= cargo
CC ?= cc
CXX ?= c++
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

RELEASE := target/release
CTEST := target/ctest
# Loom builds the crate with `--cfg loom`: a separate target dir keeps the
# normal build's artifacts valid.
LOOM_TARGET ?= target/loom

# What a program linking the static library needs besides it
# (`cargo rustc -- --print native-static-libs`).
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
CSTRICT := -std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude
LINK_SHARED := -L$(RELEASE) -lpushbus -Wl,-rpath,$(abspath $(RELEASE))
LINK_STATIC := $(RELEASE)/libpushbus.a $(STATIC_LIBS)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible


.PHONY: all build demo servers server-c server-rust server-python server-node c-chat-test rust-chat-test e2e-test browser-test tour test lint unit doc loom header header-check ctest \
	install install-test fuzz-smoke node-test node-chat-test python-test bench bench-full bench-node-sse bench-test clean

all: build

build:
	$(CARGO) build --release

## The main job: the chat demo at http://127.0.0.1:8080 (PORT=... to move
## it), served by the C server; SERVER=rust, python or node for the others
## (examples/README.md). `make tour` runs the in-process Rust tour.
SERVER ?= c
PORT ?= 8080
demo:
	@case "$(SERVER)" in c|rust|python|node) ;; \
	*) echo "make demo: unknown SERVER=$(SERVER) (c, rust, python, node)" >&2; exit 2 ;; esac
	@$(MAKE) --no-print-directory server-$(SERVER)
	@echo "pushbus chat demo ($(SERVER) server): open http://127.0.0.1:$(PORT)/"
	@exec examples/serve.sh $(SERVER) --port $(PORT)

## Every example server, built for examples/serve.sh.
servers: server-c server-rust server-python server-node

server-c: build
	$(MAKE) --no-print-directory -C examples/c

## The C chat server's own tests: HTTP parser limits, /ws-echo conformance,
## slow readers, clean SIGTERM/SIGINT exits under ASan+UBSan.
c-chat-test: server-c
	bash examples/c/test.sh

server-rust:
	bash examples/rust/build.sh

## The Rust chat server's own checks: fmt, clippy, unit and hub tests.
rust-chat-test: server-rust
	bash examples/rust/test.sh

server-python: build
	bash bindings/python/build.sh
	target/python/venv/bin/python -m pip install --quiet --disable-pip-version-check \
		-r examples/python/requirements.txt

server-node: build
	cd bindings/node && npm ci --no-audit --no-fund --loglevel=error
	cd examples/node && npm ci --no-audit --no-fund --loglevel=error

tour:
	$(CARGO) run --release --example quickstart

## Every test.
test: lint header-check unit doc loom ctest install-test fuzz-smoke c-chat-test rust-chat-test node-test node-chat-test python-test e2e-test browser-test bench-test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test

# Private items too, for their links (the modules' specifications refer to
# them); then the public manual, which is what target/doc keeps.
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --document-private-items
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(LOOM_TARGET) $(CARGO) test --release --lib loom_model

## The C header is generated and committed; the check fails when it is stale.
header:
	cbindgen --config cbindgen.toml --crate pushbus --output include/pushbus.h -q .

header-check:
	@tmp=$$(mktemp) && cbindgen --config cbindgen.toml --crate pushbus --output $$tmp -q . && \
	if cmp -s $$tmp include/pushbus.h; then rm -f $$tmp; echo "include/pushbus.h is up to date"; \
	else diff -u include/pushbus.h $$tmp | head -40; rm -f $$tmp; \
	echo "include/pushbus.h is stale: run make header and commit it" >&2; exit 1; fi

## The C tests: the API suite against the shared and the static library,
## under ASan+UBSan and valgrind; the threaded test; the header as C++.
ctest: build
	mkdir -p $(CTEST)
	$(CC) $(CSTRICT) tests/c/test_api.c -o $(CTEST)/api_shared $(LINK_SHARED)
	$(CC) $(CSTRICT) tests/c/test_api.c -o $(CTEST)/api_static $(LINK_STATIC)
	$(CC) $(CSTRICT) $(SANITIZE) tests/c/test_api.c -o $(CTEST)/api_asan $(LINK_STATIC)
	$(CC) $(CSTRICT) -O2 tests/c/test_threads.c -o $(CTEST)/threads_static $(LINK_STATIC) -lpthread
	$(CC) $(CSTRICT) $(SANITIZE) tests/c/test_threads.c -o $(CTEST)/threads_asan $(LINK_STATIC) -lpthread
	$(CC) $(CSTRICT) tests/c/test_threads.c -o $(CTEST)/threads_shared $(LINK_SHARED) -lpthread
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude tests/c/test_cpp.cpp -o $(CTEST)/cpp $(LINK_SHARED)
	$(CTEST)/api_shared
	$(CTEST)/api_static
	ASAN_OPTIONS=detect_leaks=1 $(CTEST)/api_asan
	$(VALGRIND) $(CTEST)/api_shared
	$(CTEST)/threads_static
	ASAN_OPTIONS=detect_leaks=1 $(CTEST)/threads_asan
	$(VALGRIND) $(CTEST)/threads_shared
	$(CTEST)/cpp

## Installs the libraries, the header and pushbus.pc under $(PREFIX).
install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(RELEASE)/libpushbus.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(RELEASE)/libpushbus.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/pushbus.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' \
		pushbus.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pushbus.pc

## Installs into a scratch prefix and builds a program with pkg-config.
install-test:
	rm -rf $(CTEST)/prefix && mkdir -p $(CTEST)
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(CTEST)/prefix)
	PKG_CONFIG_PATH=$(abspath $(CTEST)/prefix)/lib/pkgconfig sh -c \
		'$(CC) -std=c11 -Wall -Wextra -Werror tests/c/pkgconfig_smoke.c -o $(CTEST)/smoke $$(pkg-config --cflags --libs pushbus)'
	LD_LIBRARY_PATH=$(abspath $(CTEST)/prefix)/lib $(CTEST)/smoke

## cargo-fuzz targets (fuzz/): the WebSocket decoder, token parsing, the
## SSE, NDJSON and iframe encoders checked by independent parsers, and the
## JSON validator against serde_json. A short smoke run here; `make fuzz
## FUZZ_SECS=600` for a real one. cargo-fuzz needs nightly features:
## RUSTC_BOOTSTRAP lets the stable toolchain use them.
FUZZ_TARGETS := ws_decoder token_parse sse_encode envelope_encode json_validate
FUZZ_RUNS ?= 20000
FUZZ_SECS ?= 60
fuzz-smoke:
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -O
	for target in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$target -- -runs=$(FUZZ_RUNS) || exit 1; done

fuzz:
	for target in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$target -- -max_total_time=$(FUZZ_SECS) || exit 1; done

## The Node package (bindings/node): npm ci, tsc --noEmit, node:test.
node-test: build
	bash bindings/node/test.sh

## The Node chat server (examples/node) against independent clients.
node-chat-test: build
	bash examples/node/test.sh

## The Python package (bindings/python: wheel into target/python/venv,
## mypy --strict, pytest) and the Python chat server (examples/python, end
## to end with independent clients, and the page in headless Chromium).
python-test: build
	bash bindings/python/test.sh
	bash examples/python/test.sh

## The chat contract (shared CHAT_API.md) end to end against each example
## server, with independent clients (tests/e2e/README.md): ~30 s a server.
E2E_SERVERS ?= c-asan rust python node
e2e-test: servers
	for server in $(E2E_SERVERS); do bash tests/e2e/run.sh $$server || exit 1; done

## The page in Debian's Chromium against every server, directly and through
## nginx (tests/browser; needs the apt packages chromium and nginx).
browser-test: servers
	bash tests/browser/run.sh

## Benchmarks against every peer (benches/scripts/run.sh): the library's
## criterion benches, ZeroMQ inproc, then Redis, NATS, nchan and the C chat
## server over loopback; results, tables and charts in benches/results/.
bench:
	bash benches/scripts/run.sh quick

bench-full:
	bash benches/scripts/run.sh full

## The benchmark harnesses' own checks, so that what `make bench` reports
## rests on tested code: the load client's parsers (benches/peers: fmt,
## clippy, unit tests; needs libzmq3-dev), the tables' reading of results
## (benches/scripts) and the Node SSE runner (benches/node-sse, which
## starts the Node chat server).
bench-test: server-node
	python3 -m unittest discover -s benches/scripts
	cd benches/peers && $(CARGO) fmt --check
	CARGO_TARGET_DIR=$(CURDIR)/target/bench-peers $(CARGO) clippy --manifest-path benches/peers/Cargo.toml --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(CURDIR)/target/bench-peers $(CARGO) test --manifest-path benches/peers/Cargo.toml
	cd benches/node-sse && npm ci --no-audit --no-fund --loglevel=error && npm test

## Node, end to end: the pushbus chat server against a plain node:http SSE
## fan-out and socket.io, 1,000 connections, stepped publish rate
## (benches/node-sse; about 1 minute, BENCH_FULL=1 about 6).
bench-node-sse: server-node
	bash benches/node-sse/run.sh

clean:
	$(CARGO) clean
