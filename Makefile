# halfclose — `make run` starts the server, `make test` runs every test.
GO      ?= go
TOOL    := $(GO) tool -modfile=tools/go.mod
BIN     := $(CURDIR)/bin
ARGS    ?=

.PHONY: all run build tools test test-short test-fleet test-deploy generate checkgenerate lint bench fuzz clean

all: lint test

## build: the server and the client into ./bin, static as deploy/Dockerfile builds them
## (CGO_ENABLED=0, -trimpath: the same compiled packages, so make test-deploy's image build is cached)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/halfclosed ./cmd/halfclose

## tools: pinned external clients used by the tests and benchmarks (tools/go.mod)
tools:
	$(GO) build -modfile=tools/go.mod -o $(BIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/bojand/ghz/cmd/ghz

## run: start halfclosed on 127.0.0.1 (gRPC :50051, TCP :50052); pass flags with ARGS=...
run: build
	$(BIN)/halfclosed $(ARGS)

## test: unit, integration and end-to-end tests, with the race detector
test: build tools
	E2E_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory test-deploy

## test-deploy: deploy/k8s decoded strictly into the Kubernetes API types, and its invariants
## (deploy/validate, a module of its own so the library's go.mod stays small)
test-deploy: build
	cd deploy/validate && HALFCLOSED=$(BIN)/halfclosed $(GO) test -race -count=1 ./...

## test-fleet: 3 replicas behind nginx and HAProxy (deploy/): every path, the proxy traps, and
## FLEET_ROUNDS rolling restarts under load per proxy (CI: 5). Needs nginx, libnginx-mod-stream, haproxy.
## No -race: what it tests are the binaries (not race builds), and the detector makes the test
## process's own 64 MiB copies and comparisons 4x slower; make test runs every package with -race.
FLEET_ROUNDS ?= 1
test-fleet: build tools
	E2E_BIN_DIR=$(BIN) FLEET_ROUNDS=$(FLEET_ROUNDS) $(GO) test -tags fleet -count=1 -v -run '^TestFleet$$' -timeout 60m ./e2e/

test-short:
	$(GO) test -short -count=1 ./...

## generate: regenerate api/ from proto/
generate:
	$(TOOL) buf generate

## checkgenerate: fail when api/ differs from what proto/ generates
checkgenerate: generate
	@git diff --exit-code -- api/ || (echo "api/ is stale: run make generate and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- api/)" || (git status --porcelain -- api/ >&2; echo "api/ has untracked generated files" >&2; exit 1)

## lint: buf lint and format, go vet (the fleet test and deploy/validate too), gofmt
lint:
	$(TOOL) buf lint
	$(TOOL) buf format -d --exit-code
	$(GO) vet ./...
	$(GO) vet -tags fleet ./e2e/
	cd deploy/validate && $(GO) vet ./...
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; test -z "$$out" || (echo "gofmt needed:" $$out >&2; exit 1)

## bench: throughput table against GNU tools, measured in one run
bench: build tools
	E2E_BIN_DIR=$(BIN) $(GO) run ./internal/benchtable $(ARGS)

## fuzz: a short run of each fuzz target
fuzz:
	$(GO) test -run=NONE -fuzz=FuzzSplitPipeline -fuzztime=30s ./compute/engine/
	$(GO) test -run=NONE -fuzz=FuzzFilters -fuzztime=60s ./compute/builtin/
	$(GO) test -run=NONE -fuzz=FuzzReadHeader -fuzztime=30s ./server/
	$(GO) test -run=NONE -fuzz=FuzzQuoteWordsRoundTrip -fuzztime=30s ./cmd/halfclose/

clean:
	rm -rf $(BIN) .bench
