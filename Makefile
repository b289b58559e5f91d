# halfclose — `make run` starts the server, `make test` runs every test.
GO      ?= go
TOOL    := $(GO) tool -modfile=tools/go.mod
# buf, prebuilt, as tools/package-lock.json pins it (make generate, make lint,
# docs/clients.md's buf curl): built from source it cost a fresh machine about
# 360 CPU-s, the largest single step of a cold CI run.
BUF     := tools/node_modules/.bin/buf
BIN     := $(CURDIR)/bin
ARGS    ?=
# DEMO is what `make run` serves besides the defaults: a route port for the
# README's tour. `make run DEMO=` serves none.
DEMO    ?= --tcp-route 127.0.0.1:7001=sha256sum
PREFIX  ?= /usr/local
DESTDIR ?=
SHARE   := $(BIN)/share
CMDS    := halfclose halfclosed

.PHONY: all run build tools test-tools buf examples-deps test test-race test-long test-short test-fleet test-roll soak test-deploy generate checkgenerate lint cross bench fuzz clean completions man install

all: lint test

## build: the server and the client into ./bin, static as deploy/Dockerfile builds them
## (CGO_ENABLED=0, -trimpath: the same compiled packages, so make test-deploy's image build is cached;
## --version shows the git revision)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o $(BIN)/ ./cmd/halfclosed ./cmd/halfclose

## tools: pinned external clients used by the tests and benchmarks (tools/go.mod)
tools:
	$(GO) build -modfile=tools/go.mod -o $(BIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/bojand/ghz/cmd/ghz

## buf: buf into tools/node_modules, as tools/package-lock.json pins it (npm's registry; Node.js >= 12)
buf: $(BUF)
$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## examples-deps: the Node example's packages, as examples/node/package-lock.json pins them
examples-deps:
	cd examples/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

## run: start halfclosed on 127.0.0.1 (gRPC :50051, TCP :50052, route :7001=sha256sum, /healthz and /readyz on :50053); pass flags with ARGS=...
run: build
	$(BIN)/halfclosed $(DEMO) $(ARGS)

## completions: bash, zsh and fish completions into bin/share, generated from the flag definitions
completions: build
	mkdir -p $(SHARE)/bash-completion/completions $(SHARE)/zsh/site-functions $(SHARE)/fish/vendor_completions.d
	for c in $(CMDS); do \
	  $(BIN)/$$c --generate complete-bash > $(SHARE)/bash-completion/completions/$$c && \
	  $(BIN)/$$c --generate complete-zsh > $(SHARE)/zsh/site-functions/_$$c && \
	  $(BIN)/$$c --generate complete-fish > $(SHARE)/fish/vendor_completions.d/$$c.fish || exit 1; \
	done

## man: man pages into bin/share/man/man1, generated from the flag definitions
man: build
	mkdir -p $(SHARE)/man/man1
	for c in $(CMDS); do $(BIN)/$$c --generate man > $(SHARE)/man/man1/$$c.1 || exit 1; done

## install: binaries, man pages and completions under $(DESTDIR)$(PREFIX) (default /usr/local)
install: build completions man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	for c in $(CMDS); do \
	  install -m 755 $(BIN)/$$c $(DESTDIR)$(PREFIX)/bin/$$c && \
	  install -m 644 $(SHARE)/man/man1/$$c.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$c.1 && \
	  install -m 644 $(SHARE)/bash-completion/completions/$$c $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$c && \
	  install -m 644 $(SHARE)/zsh/site-functions/_$$c $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$c && \
	  install -m 644 $(SHARE)/fish/vendor_completions.d/$$c.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$c.fish || exit 1; \
	done

## test-tools: the pinned clients the tests drive (grpcurl)
test-tools:
	$(GO) build -modfile=tools/go.mod -o $(BIN)/ github.com/fullstorydev/grpcurl/cmd/grpcurl

## test: unit, integration and end-to-end tests, with the race detector.
## The longest packages are named first: go test builds and starts packages in
## the order named (two at a time), so they start at once instead of last.
## server and compute/grep come next: in ./...'s order they ran last, server
## (2 min, mostly waiting on sockets and idle timeouts) alone for its last
## minutes at the end of the run.
LONG_PKGS := ./e2e/ ./compute/builtin/ ./server/ ./compute/text/ ./compute/grep/
## test-deploy (seconds, a module of its own) runs alongside, not after; without
## its build prerequisite (DEPLOY_BUILD=), not to rewrite bin/ while e2e runs it.
## buf (for the tour's buf curl line) only where npm is: without it that line is skipped, as the
## Node example's tests are (and fails under CI=true, whose .ci/run installs npm).
test: build test-tools
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(BUF); \
	  else echo "make test: no npm, so no buf: the tour's buf curl line is skipped (make buf installs it)" >&2; fi
	$(MAKE) --no-print-directory -j2 test-race test-deploy DEPLOY_BUILD=

## GORACE: no second of sleep at each race binary's exit (the detector's default, for
## reports of goroutines still running then; goleak has checked there are none).
RACE_ENV := GORACE="atexit_sleep_ms=0 $(GORACE)"
## -timeout 30m: a package takes 1-5 minutes on an idle 2-core machine; at load 25 (four
## make tests at once) e2e and compute/grep passed 15 minutes and panicked, mid-test.
test-race:
	$(RACE_ENV) E2E_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 30m $(LONG_PKGS) ./...

## test-deploy: deploy/k8s decoded strictly into the Kubernetes API types, and its invariants
## (deploy/validate, a module of its own so the library's go.mod stays small)
DEPLOY_BUILD ?= build
test-deploy: $(DEPLOY_BUILD)
	cd deploy/validate && HALFCLOSED=$(BIN)/halfclosed $(GO) test -race -count=1 ./...

## test-fleet: 3 replicas behind nginx and HAProxy (deploy/): every path, the proxy traps,
## FLEET_ROUNDS rolling restarts under load per proxy (CI: 1; 5 the acceptance run), and the hunt for a wrong result with
## Python, Node, grpcurl, nc and socat clients while replicas stop, crash and the proxies reload
## (HUNT_SECONDS, docs/deploy.md; HAProxy also reloaded with -sf OLDPID, not only SIGUSR2 to a master), and each proxy reaching replicas that are back after every one
## was marked failed (nginx) or DOWN (HAProxy: a replica whose last check passed takes the call;
## with none ready, HAProxy's 503 and the TCP adapter's error line, its client not held past 5 s)
## (TestFleetRollNoLiveUpstreams; never to a draining one: ...Draining). Needs nginx, libnginx-mod-stream, haproxy (with Lua, as Debian's).
## TestFleetTLS: TLS and mTLS through each proxy (the lines docs/deploy.md gives), deadlines, certificate rotations.
## TestFleetNoRoute: nginx -t and haproxy -c without the route variables, and with the route lines removed.
## No -race: what it tests are the binaries (not race builds), and the detector makes the test
## process's own 64 MiB copies and comparisons 4x slower; make test runs every package with -race.
## -parallel 16: TestFleet and TestFleetHunt run alone (flat out), then the others, which mostly
## wait (slow uploads, the proxies' timeouts and checks), all at once (e2e/fleet_test.go).
FLEET_ROUNDS ?= 1
test-fleet: build tools
	E2E_BIN_DIR=$(BIN) FLEET_ROUNDS=$(FLEET_ROUNDS) $(GO) test -tags fleet -count=1 -v -parallel 16 -run '^TestFleet(ErrorLine|Hunt|HuntSlow|NginxStatus|HAProxyStatus|RollNoLiveUpstreams|RollNoLiveUpstreamsDraining|CrashBeforeChecks|NoRoute|TLS)?$$' -timeout 60m ./e2e/

## test-roll: a rolling restart through nginx and HAProxy under every client kind at once (Python,
## Node, grpcurl, the CLI over gRPC and --tcp, nc, socat; grpcio and grpc-js channels kept across it),
## each result held to GNU's (TestFleetRoll; docs/deploy.md). ROLL_ROUNDS restarts (default 1),
## ROLL_ACTIONS (term, hurry, kill, reload). About 70 s a round on 2 cores: not in CI's time.
ROLL_ROUNDS ?= 1
test-roll: build tools
	E2E_BIN_DIR=$(BIN) ROLL_ROUNDS=$(ROLL_ROUNDS) $(GO) test -tags fleet -count=1 -v -run '^TestFleetRoll$$' -timeout 60m ./e2e/

## soak: one halfclosed for SOAK_SECONDS (default 900) under a mixed load of every client (Go, Python,
## Node, grpcurl, the CLI, nc, socat) and every abort and limit, its token file rotated; then its log
## and metrics held to what each client saw, every gauge back to 0, and its RSS, heap, goroutines,
## threads and descriptors sampled every SOAK_SAMPLE seconds over SOAK_PHASES phases
## (docs/operations.md, "Soak"). Opt-in: TestSoak skips without SOAK_SECONDS. No -race: the server
## under test is the binary.
SOAK_SECONDS ?= 900
soak: build tools
	E2E_BIN_DIR=$(BIN) SOAK_SECONDS=$(SOAK_SECONDS) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 60m ./e2e/

## test-long: the same with the long variants (large inputs, every GNU combination)
test-long: build test-tools
	HALFCLOSE_TEST_LONG=1 E2E_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 60m $(LONG_PKGS) ./...

## test-short: a quick run without the race detector or large inputs
test-short:
	$(GO) test -short -count=1 ./...

## generate: regenerate api/ (Go, buf) and the Python stubs of examples/python from proto/
PY_STUBS := examples/python/halfclose/v1
PROTOC   ?= protoc
GRPC_PY  ?= $(shell command -v grpc_python_plugin)
generate: $(BUF)
	$(BUF) generate
	@v="$$($(PROTOC) --version 2>/dev/null | sed -n 's/^libprotoc \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"; \
	set -- $$v; test -n "$$1" && { [ "$$1" -gt 3 ] || [ "$$2" -ge 15 ]; } && test -n "$(GRPC_PY)" || \
	  { echo "make generate: the Python stubs need protoc >= 3.15 (proto3 optional) and grpc_python_plugin;" \
	    "on Debian: apt-get install protobuf-compiler protobuf-compiler-grpc" >&2; exit 1; }
	rm -f $(PY_STUBS)/*_pb2*.py $(PY_STUBS)/*_pb2*.pyi
	$(PROTOC) -I proto --python_out=examples/python --pyi_out=examples/python \
	  --grpc_python_out=examples/python --plugin=protoc-gen-grpc_python=$(GRPC_PY) \
	  proto/halfclose/v1/compute.proto

## checkgenerate: fail when api/ or the Python stubs differ from what proto/ generates
GENERATED := api/ $(PY_STUBS)/
checkgenerate: generate
	@git diff --exit-code -- $(GENERATED) || (echo "generated code is stale: run make generate and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- $(GENERATED))" || (git status --porcelain -- $(GENERATED) >&2; echo "untracked generated files" >&2; exit 1)

## lint: buf lint and format, go vet, staticcheck (its default checks; none disabled), gofmt;
## vet and staticcheck also over deploy/validate (its own module).
## One pass each with -tags fleet covers every file: the tag only adds the fleet test's files
## (no file is built without it alone: the !fleet check below), and a second pass without it
## re-checked e2e for 48 CPU-s of a cold CI run (vet 36, staticcheck 12).
lint: $(BUF)
	$(BUF) lint
	$(BUF) format -d --exit-code
	@nf="$$(git grep -l -E '^//go:build.*!fleet' -- '*.go')"; test -z "$$nf" || \
	  (echo "make lint vets with -tags fleet only; these files build without it:" $$nf >&2; exit 1)
	$(GO) vet -tags fleet ./...
	$(TOOL) staticcheck -tags fleet ./...
	cd deploy/validate && $(GO) vet ./... && $(GO) tool -modfile=../../tools/go.mod staticcheck ./...
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; test -z "$$out" || (echo "gofmt needed:" $$out >&2; exit 1)
	@big="$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 {print $$2}')"; \
		test -z "$$big" || (echo "files over 1 MiB tracked (a built binary?):" $$big >&2; exit 1)

## cross: go vet ./... (which compiles every package and its test files) for the other
## platforms the client and the library are used on, and the server built for (docs/deploy.md,
## "Platforms"); -tags fleet adds the fleet test where it builds (Linux). Not part of make lint:
## cold (an empty GOCACHE) five of its six targets took 16 CPU-min (30 min at load 20); with this
## module's packages changed since the last run, 4.3 CPU-min (10 min).
CROSS := linux/386 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 freebsd/amd64
cross:
	@for t in $(CROSS); do \
	  echo "GOOS=$${t%/*} GOARCH=$${t#*/} go vet -tags fleet ./..."; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) vet -tags fleet ./... || exit 1; \
	done

## bench: throughput table against GNU tools, measured in one run
bench: build tools
	E2E_BIN_DIR=$(BIN) $(GO) run ./internal/benchtable $(ARGS)

## fuzz: a short run of each fuzz target, and a long generated run against the GNU tools
## (GNUDIFF_N cases, default 20000; GNUDIFF_SEED, default the time), of the focused
## generators (HFUZZ_N cases each, default 1000; HFUZZ_SEED), of grep -P's Perl patterns
## (PGREP_N, default 20000; PGREP_SEED), of pipelines
## (PIPEDIFF_N, default 3000; PIPEDIFF_SEED), of wc, head, tail and tac reading a regular file
## (FILEINPUTDIFF_N, default 3000; FILEINPUTDIFF_SEED), of the CLI's digest FILE and -c modes
## against a halfclosed (FILESDIFF_N, CHECKDIFF_N, default 2000 each; FILESDIFF_SEED, CHECKDIFF_SEED),
## of grep's output shaping, base64, gzip and gunzip over its TCP port and gRPC
## (CODECDIFF_N, default 2000, inputs up to CODECDIFF_MAX bytes, default 8 MB; CODECDIFF_SEED),
## of grep with many patterns and of pipelines over inputs at --max-line-bytes's edges over
## its TCP port and gRPC (BOUNDDIFF_N, default 2000; BOUNDDIFF_SEED),
## of the reply spool's writer, release and aborts (SPOOLRAND_N, default 20000; SPOOLRAND_SEED),
## of the pipeline text's words against bash's (SPLITDIFF_N, default 30000; SPLITDIFF_SEED),
## of sort --debug (SORTDEBUG_N, default 20000; SORTDEBUG_SEED),
## and of tr, uniq, wc, base64, tac, head and tail with their flags in every getopt_long spelling,
## in process and through a halfclosed's TCP port and gRPC (TEXTDIFF_N, default 3000 each; TEXTDIFF_SEED),
## of tac -r separators over inputs up to 300 KB (TACREDIFF_N, default 2000; TACREDIFF_SEED),
## of gzip -l on generated multi-member streams (GZIPLIST_N, default 5000; GZIPLIST_SEED),
## of the server's reading of a POSIX TZ rule against GNU date's (TZRULE_N, default 3000; TZRULE_SEED),
## and of every command and pipelines of them over real files through a halfclosed's gRPC, --tcp, command
## and route ports (REALDIFF_N, default 2000; REALDIFF_SEED; REALDIFF_FILES, files and directories joined
## by colons, default /usr/share/man/man1:/usr/share/doc:/usr/bin)
fuzz:
	GNUDIFF_N=$${GNUDIFF_N:-20000} GNUDIFF_SEED=$${GNUDIFF_SEED:-$$(date +%s)} $(GO) test -run=TestGNUDiffGenerated -count=1 -timeout 180m -v ./compute/builtin/
	HFUZZ_N=$${HFUZZ_N:-1000} HFUZZ_SEED=$${HFUZZ_SEED:-$$(date +%s)} $(GO) test -run='^TestHuntHfuzz$$' -count=1 -timeout 120m -v ./compute/builtin/
	PGREP_N=$${PGREP_N:-20000} PGREP_SEED=$${PGREP_SEED:-$$(date +%s)} $(GO) test -run='^TestGrepPerlGenerated$$' -count=1 -timeout 60m -v ./compute/builtin/
	PIPEDIFF_N=$${PIPEDIFF_N:-3000} PIPEDIFF_SEED=$${PIPEDIFF_SEED:-$$(date +%s)} $(GO) test -run=TestGNUPipelinesGenerated -count=1 -timeout 60m -v ./compute/builtin/
	FILEINPUTDIFF_N=$${FILEINPUTDIFF_N:-3000} FILEINPUTDIFF_SEED=$${FILEINPUTDIFF_SEED:-$$(date +%s)} $(GO) test -run='^TestGNUDiffFileInput$$' -count=1 -timeout 60m -v ./compute/builtin/
	FILESDIFF_N=$${FILESDIFF_N:-2000} FILESDIFF_SEED=$${FILESDIFF_SEED:-$$(date +%s)} CHECKDIFF_N=$${CHECKDIFF_N:-2000} CHECKDIFF_SEED=$${CHECKDIFF_SEED:-$$(date +%s)} \
	  CODECDIFF_N=$${CODECDIFF_N:-2000} CODECDIFF_SEED=$${CODECDIFF_SEED:-$$(date +%s)} CODECDIFF_MAX=$${CODECDIFF_MAX:-8000000} \
	  BOUNDDIFF_N=$${BOUNDDIFF_N:-2000} BOUNDDIFF_SEED=$${BOUNDDIFF_SEED:-$$(date +%s)} \
	  $(GO) test -run='^Test(FilesRandom|CheckRandom|CodecRandom|HuntBoundaryRandom)$$' -count=1 -timeout 60m -v ./e2e/
	SPOOLRAND_N=$${SPOOLRAND_N:-20000} SPOOLRAND_SEED=$${SPOOLRAND_SEED:-$$(date +%s)} $(GO) test -race -run='^TestSpoolReleaseRandom$$' -count=1 -timeout 60m ./compute/spool/
	SPLITDIFF_N=$${SPLITDIFF_N:-30000} SPLITDIFF_SEED=$${SPLITDIFF_SEED:-$$(date +%s)} $(GO) test -run='^TestSplitPipelineBashGenerated$$' -count=1 -v ./compute/engine/
	SORTDEBUG_N=$${SORTDEBUG_N:-20000} SORTDEBUG_SEED=$${SORTDEBUG_SEED:-$$(date +%s)} $(GO) test -run='^TestSortDebugGenerated$$' -count=1 -timeout 60m -v ./compute/builtin/
	TEXTDIFF_N=$${TEXTDIFF_N:-3000} TEXTDIFF_SEED=$${TEXTDIFF_SEED:-$$(date +%s)} $(GO) test -run='^TestTextDiffGenerated$$' -count=1 -timeout 60m -v ./compute/builtin/
	TEXTDIFF_N=$${TEXTDIFF_N:-3000} TEXTDIFF_SEED=$${TEXTDIFF_SEED:-$$(date +%s)} $(GO) test -run='^TestTextDiffRandom$$' -count=1 -timeout 60m -v ./e2e/
	TACREDIFF_N=$${TACREDIFF_N:-2000} TACREDIFF_SEED=$${TACREDIFF_SEED:-$$(date +%s)} $(GO) test -run='^TestTacRegexDiffGNU$$' -count=1 -timeout 60m ./compute/text/
	GZIPLIST_N=$${GZIPLIST_N:-5000} GZIPLIST_SEED=$${GZIPLIST_SEED:-$$(date +%s)} $(GO) test -run='^TestGzipListGenerated$$' -count=1 -timeout 60m -v ./compute/text/
	TZRULE_N=$${TZRULE_N:-3000} TZRULE_SEED=$${TZRULE_SEED:-$$(date +%s)} $(GO) test -run='^TestRulesGenerated$$' -count=1 -timeout 60m -v ./internal/tz/
	REALDIFF_N=$${REALDIFF_N:-2000} REALDIFF_SEED=$${REALDIFF_SEED:-$$(date +%s)} REALDIFF_FILES=$${REALDIFF_FILES-/usr/share/man/man1:/usr/share/doc:/usr/bin} \
	  $(GO) test -run='^TestHuntRealDiff$$' -count=1 -timeout 60m -v ./e2e/
	$(GO) test -run=NONE -fuzz=FuzzSplitPipeline -fuzztime=30s ./compute/engine/
	$(GO) test -run=NONE -fuzz=FuzzFilters -fuzztime=60s ./compute/builtin/
	$(GO) test -run=NONE -fuzz=FuzzReadHeader -fuzztime=30s ./server/
	$(GO) test -run=NONE -fuzz=FuzzQuoteWordsRoundTrip -fuzztime=30s ./cmd/halfclose/
	$(GO) test -run=NONE -fuzz='^FuzzParseRule$$' -fuzztime=60s ./internal/tz/
	$(GO) test -run=NONE -fuzz='^FuzzPosixRules$$' -fuzztime=60s -fuzzminimizetime=2s ./internal/tz/

clean:
	rm -rf $(BIN) .bench
