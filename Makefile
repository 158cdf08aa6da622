# leasectl — two commands matter on a fresh machine:
#   make run    the console (a live demo fleet when there is no config)
#   make test   every test, installing what the tests need first
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export GOTOOLCHAIN := local

GO        ?= go
BIN       := bin/leasectl
# Consul is built from source once per machine (about 3-5 minutes) and cached
# outside the repository; scripts/ensure-consul.sh prints its path.
CONSUL    := scripts/ensure-consul.sh

.PHONY: all build run test test-deps vet tidy fuzz bench clean wasm test-wasm

all: build

# The browser console (site/dist/, embedded for `leasectl serve`) is built
# first; a plain go build works too, with a serve that says how to build it.
build:
	scripts/build-wasm.sh
	$(GO) build -o $(BIN) .

run: build
	./$(BIN) $(ARGS)

test-deps:
	@scripts/ensure-tools.sh
	@$(CONSUL) >/dev/null

vet:
	$(GO) vet ./...

# go.mod and go.sum must say exactly what the code imports: a dependency
# marked indirect that is imported directly, or a stale line, fails the tests.
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; }

test: test-deps tidy vet build
	LEASECTL_CONSUL="$$($(CONSUL))" LEASECTL_BIN="$(CURDIR)/$(BIN)" $(GO) test -race -count=1 -timeout 40m ./...
	scripts/test-wasm.sh

# The console in a browser: build/wasm/ is a static site (needs Node 20 and
# npm) that runs the demo, e.g. python3 -m http.server -d build/wasm 8080;
# the same site goes into site/dist/ for `leasectl serve`.
wasm:
	scripts/build-wasm.sh

# Build the browser console, run the tui and wasm tests compiled for js under
# Node, and smoke-test the built site.
test-wasm:
	scripts/test-wasm.sh

# Fuzz the record decoder (FUZZTIME=1m by default).
FUZZTIME ?= 1m
fuzz:
	$(GO) test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./lease/

bench: test-deps
	LEASECTL_CONSUL="$$($(CONSUL))" $(GO) test -run=NONE -bench=. -benchmem ./...

clean:
	rm -rf bin build
	find site/dist -mindepth 1 -not -name README -delete

# The fleet-scale benchmark of issue 9 (bench/scale, FINDINGS.md there): N
# leases per store in real etcd, Consul and NATS; leasectl ls against each
# store's own tool, the console in tmux, its steady state, and profiles.
# About 10 minutes at N=100000; installs etcdctl and tmux when missing.
#   make bench-scale N=100000 SIZES=1000,10000,100000 BENCH_SCALE_ARGS="-runs 5"
N ?= 100000
SIZES ?= 1000,10000,100000
.PHONY: bench-scale
bench-scale:
	scripts/bench-scale.sh -n $(N) -sizes $(SIZES) $(BENCH_SCALE_ARGS)
