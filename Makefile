# Switchboard. `make run` serves the gateway; `make test` runs every test.
# PKG= limits test/bench/fuzz to packages (default ./...), TESTS= to a -run
# pattern, as in Pebble's Makefile.

GO       ?= go
PKG      ?= ./...
TESTS    ?= .
FUZZTIME ?= 20000x
NODE_DIR := test/node
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export SWITCHBOARD_API_KEY ?= sk-sb-local-dev

.PHONY: help run build catalog test test-deps test-race test-allocs bench bench-go fuzz lint

help:
	@echo "make run        serve the gateway on 127.0.0.1:8080, or LISTEN=addr (embedded config; key \$$SWITCHBOARD_API_KEY, default sk-sb-local-dev)"
	@echo "make test       lint, then every test with the race detector, then short fuzz runs (offline)"
	@echo "make build      build ./switchboard"
	@echo "make catalog    regenerate configs/catalog.yaml and the README's catalog table from configs/catalog"
	@echo "make test-race  go test -race \$$PKG (no lint, no fuzz)"
	@echo "make bench      overhead report: gateway vs direct vs bare proxy floor, against the mock (< 2 min)"
	@echo "make bench-go   Go micro-benchmarks of the hot path"
	@echo "make fuzz       fuzz targets, FUZZTIME each (default $(FUZZTIME))"
	@echo "make lint       gofmt, go vet and staticcheck"

# LISTEN= serves on another address: make run LISTEN=0.0.0.0:9000.
run:
	$(GO) run . $(if $(LISTEN),-listen $(LISTEN))

# -buildvcs=auto stamps the git revision `switchboard version` prints,
# whatever GOFLAGS says.
build:
	$(GO) build -buildvcs=auto -o switchboard .

# The model catalog is generated from the pinned price tables and the
# hand overrides under configs/catalog; a test checks the committed file.
catalog:
	$(GO) run ./configs/catalog/gen

# The real-client tests drive the gateway with the official npm SDKs,
# installed into a git-ignored folder. npm ci can refuse a lock file over
# per-platform optional packages, so fall back to npm install. The README
# examples are run with real curl, installed from Debian when missing, the
# console is tested in a real headless Chromium, and the several-gateway
# tests with a real PostgreSQL server (store/postgres/pgtest), redis-server
# and nginx (internal/testenv), all installed from Debian when missing.
test-deps:
	cd $(NODE_DIR) && (npm ci --no-audit --no-fund || npm install --no-audit --no-fund)
	command -v curl >/dev/null || (apt-get update && apt-get install -y curl)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || (apt-get update && apt-get install -y postgresql)
	command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)
	command -v nginx >/dev/null || (apt-get update && apt-get install -y nginx)

test: lint test-deps test-race test-allocs fuzz

# Allocation budgets and memory figures only hold without the race
# detector.
test-allocs:
	$(GO) test -count=1 -run 'Allocation|Memory' $(PKG)

test-race:
	$(GO) test -race -count=1 -timeout 20m -run '$(TESTS)' $(PKG)

bench:
	$(GO) run ./bench

bench-go:
	$(GO) test -run '^$$' -bench '$(TESTS)' -benchmem $(PKG)

# Each fuzz target runs FUZZTIME (an iteration count keeps CI time bounded
# and stable on a loaded machine).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKG)); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKG)
	$(GO) run $(STATICCHECK) $(PKG)
