# halfclose — `make run` starts the server, `make test` runs every test.
GO      ?= go
TOOL    := $(GO) tool -modfile=tools/go.mod
BIN     := $(CURDIR)/bin
ARGS    ?=

.PHONY: all run build tools test-tools test test-long test-short generate checkgenerate lint bench fuzz clean

all: lint test

## build: the server and the client into ./bin
build:
	$(GO) build -o $(BIN)/ ./cmd/halfclosed ./cmd/halfclose

## tools: pinned external clients used by the tests and benchmarks (tools/go.mod)
tools:
	$(GO) build -modfile=tools/go.mod -o $(BIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/bojand/ghz/cmd/ghz

## run: start halfclosed on 127.0.0.1 (gRPC :50051, TCP :50052); pass flags with ARGS=...
run: build
	$(BIN)/halfclosed $(ARGS)

## test-tools: the pinned clients the tests drive (grpcurl)
test-tools:
	$(GO) build -modfile=tools/go.mod -o $(BIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl

## test: unit, integration and end-to-end tests, with the race detector
test: build test-tools
	E2E_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 15m ./...

## test-long: the same with the long variants (large inputs, every GNU combination)
test-long: build test-tools
	HALFCLOSE_TEST_LONG=1 E2E_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 60m ./...

## test-short: a quick run without the race detector or large inputs
test-short:
	$(GO) test -short -count=1 ./...

## generate: regenerate api/ from proto/
generate:
	$(TOOL) buf generate

## checkgenerate: fail when api/ differs from what proto/ generates
checkgenerate: generate
	@git diff --exit-code -- api/ || (echo "api/ is stale: run make generate and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- api/)" || (git status --porcelain -- api/ >&2; echo "api/ has untracked generated files" >&2; exit 1)

## lint: buf lint and format, go vet, gofmt
lint:
	$(TOOL) buf lint
	$(TOOL) buf format -d --exit-code
	$(GO) vet ./...
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
