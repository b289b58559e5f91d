//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README tour is run as written: TestTour takes the commands of the
// first sh block under "## A quick tour" in README.md, starts the server
// with `make run` (as the README says to), runs each command with bash
// from the clone's top directory, and checks its answer with the oracle
// below. A command with no oracle, or an oracle whose command is gone,
// fails the test, so the README and this file change together. The
// examples of the other docs that run against `make run`'s server as
// written (tourDocBlocks) are run the same way after the tour, and so are
// the docs' console samples (tourConsoles: "$ COMMAND", then what it
// prints), each in a directory its setup fills, its stdout and stderr on
// one pipe held to the sample's lines and to GNU's.

// tourCheck checks one tour command's result; gnu is a shell command
// whose stdout the command's must equal (run by bash in the same
// directory), or check inspects the result itself.
type tourCheck struct {
	gnu   string
	check func(t testing.TB, r result)
	skip  string // why the command is not run here (what runs it instead)
	// pre, when set, says whether what the command needs is installed:
	// its error skips the command (fails it under CI).
	pre func() error
	// setup, for a console sample's command, is the bash script that
	// makes the files it names, run in a new directory where the command
	// and the gnu oracle then run.
	setup string
}

// nodeModules says whether make examples-deps has run: the tour's own
// namespace has no network for npm.
func nodeModules() error {
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	_, err := os.Stat("../examples/node/node_modules/@grpc/grpc-js/package.json")
	if err != nil {
		return fmt.Errorf("@grpc/grpc-js not installed: run make examples-deps: %v", err)
	}
	return nil
}

// bufInstalled says whether make buf has run (make test runs it): the
// tour's namespace has no network for npm.
func bufInstalled() error {
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	if _, err := os.Stat("../tools/node_modules/.bin/buf"); err != nil {
		return fmt.Errorf("buf not installed: run make buf: %v", err)
	}
	return nil
}

// debianPython is the python3 docs/clients.md names: one with grpc.
func debianPython() error {
	if err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf").Run(); err != nil {
		return fmt.Errorf("/usr/bin/python3 cannot import grpc and google.protobuf (apt-get install python3-grpcio python3-protobuf): %v", err)
	}
	return nil
}

// tourDocBlocks are the first sh block under each heading of a doc whose
// commands run against `make run`'s server, after the README's tour.
var tourDocBlocks = []struct{ doc, heading string }{
	{"docs/protocol.md", "### Header options: proving the end, verifying the reply"},
	{"docs/clients.md", "## grpcurl"},
	{"docs/clients.md", "## buf curl"},
	{"docs/clients.md", "## Python"},
	{"docs/clients.md", "## Node"},
}

// tourConsoles are the docs' console samples: the first ``` block under
// each heading, "$ COMMAND" lines each followed by what it prints, stdout
// and stderr as a terminal shows them (the command's halfclose is the
// installed one: bin/ is first on PATH).
var tourConsoles = []struct{ doc, heading string }{
	{"docs/cli.md", "## Checking"},
}

var tourChecks = map[string]tourCheck{
	"make build tools": {check: func(t testing.TB, r result) {}},
	"head -c 10000000 /dev/urandom > /tmp/data": {check: func(t testing.TB, r result) {
		if st, err := os.Stat("/tmp/data"); err != nil || st.Size() != 10000000 {
			t.Errorf("/tmp/data: %v", err)
		}
	}},
	"bin/halfclose sha256sum < /tmp/data":                     {gnu: "sha256sum < /tmp/data"},
	"bin/halfclose sha256sum /tmp/data README.md":             {gnu: "sha256sum /tmp/data README.md"},
	"bin/halfclose 'grep -c halfclose' < README.md":           {gnu: "grep -c halfclose < README.md"},
	"bin/halfclose --tcp wc -l < README.md":                   {gnu: "wc -l < README.md"},
	"bin/halfclose commands":                                  {check: containsAll("sha256sum ", "\n  --tag ", "\nwc ", "\ngrep ", "Limits: ")},
	"(echo sha256sum; cat /tmp/data) | nc -N 127.0.0.1 50052": {gnu: "sha256sum < /tmp/data"},
	"nc -N 127.0.0.1 7001 < /tmp/data":                        {gnu: "sha256sum < /tmp/data"},
	"bin/grpcurl -plaintext 127.0.0.1:50051 list":             {check: containsAll("halfclose.v1.ComputeService\n", "grpc.health.v1.Health\n", "grpc.reflection.v1.ServerReflection\n")},
	`bin/grpcurl -plaintext -d '{"header":{"algorithms":["ALGORITHM_SHA256","ALGORITHM_MD5"]}} {"text":"hello\n"}' 127.0.0.1:50051 halfclose.v1.ComputeService/Digest`:                          {check: checkTourDigest("ALGORITHM_SHA256", "ALGORITHM_MD5")},
	`bin/grpcurl -plaintext -d '{"header":{"pipeline":"wc -l"}} {"text":"a\nb\n"}' 127.0.0.1:50051 halfclose.v1.ComputeService/Run`:                                                             {check: checkTourRun},
	`bin/grpcurl -plaintext -d '{"header":{"pipeline":"wc -l"}} {"text":"a\nb\n"}' 127.0.0.1:50051 halfclose.v1.ComputeService/Run | grep -o '"output": "[^"]*"' | cut -d '"' -f 4 | base64 -d`: {gnu: `printf 'a\nb\n' | wc -l`},
	"bin/grpcurl -plaintext 127.0.0.1:50051 halfclose.v1.ComputeService/Capabilities":                                                                                                           {check: containsAll(`"name": "sha256sum"`, `"name": "grep"`, `"ALGORITHM_BLAKE3"`, `"maxInputBytes": "17179869184"`)},

	// docs/protocol.md, "Header options"
	`(printf '@token=%s sha256sum\n' "$(cat tokens.txt)"; cat file) | nc -N 127.0.0.1 50052`: {skip: "needs a server with --auth-token-file and its tokens.txt (server: TestTCPToken; e2e: TestCLITCPToken)"},
	`f=/tmp/data; { printf '@size=%d @trailer sha256sum\n' "$(stat -c %s "$f")"; cat "$f"; } | nc -N 127.0.0.1 50052`: {
		gnu: `sha256sum < /tmp/data; printf 'halfclose: ok out=68 in=%d\n' "$(stat -c %s /tmp/data)"`},
	`printf '@chunked @trailer wc -l\n6\nhello\n6\nworld\n0\n' | nc -N 127.0.0.1 50052`: {
		gnu: `printf 'hello\nworld\n' | wc -l | tr -d '\n'; printf '\nhalfclose: ok out=%d in=12\n' "$(printf 'hello\nworld\n' | wc -l | wc -c)"`},
	// docs/clients.md, "grpcurl" and "buf curl"
	`bin/grpcurl -plaintext -d '{"header":{"algorithms":["ALGORITHM_SHA256"],"require_end":true}} {"text":"hello\n"} {"end":{"size":6}}' 127.0.0.1:50051 halfclose.v1.ComputeService/Digest`: {check: checkTourDigest("ALGORITHM_SHA256")},
	`/usr/bin/python3 examples/python/client.py --addr 127.0.0.1:50051 digest -a sha256 /tmp/data README.md`:                                                                                 {gnu: "sha256sum /tmp/data README.md", pre: debianPython},
	`/usr/bin/python3 examples/python/client.py run 'grep -c halfclose' < README.md`:                                                                                                         {gnu: "grep -c halfclose < README.md", pre: debianPython},
	`/usr/bin/python3 examples/python/client.py --timeout 30 run 'sort | uniq -c' < README.md`:                                                                                               {gnu: "sort < README.md | uniq -c", pre: debianPython},
	// docs/cli.md, "Checking": a listed file that matches, one that does
	// not, one missing (the sample showed the missing file's FAILED line
	// before GNU's error for it, which GNU prints first).
	"halfclose sha256sum -c SHA256SUMS": {gnu: "sha256sum -c SHA256SUMS",
		setup: "printf 'a\\n' > a; printf 'b\\n' > b; printf 'c\\n' > c; sha256sum a b c > SHA256SUMS; printf 'B\\n' > b; rm c"},
	"make examples-deps": {skip: "npm needs the network, which the tour's namespace has not: the node lines below need it run before"},
	`node examples/node/client.js --addr 127.0.0.1:50051 digest -a sha256 /tmp/data README.md`:                                                                                                                                     {gnu: "sha256sum /tmp/data README.md", pre: nodeModules},
	`node examples/node/client.js run 'grep -c halfclose' < README.md`:                                                                                                                                                             {gnu: "grep -c halfclose < README.md", pre: nodeModules},
	`node examples/node/client.js --timeout 30 run 'sort | uniq -c' < README.md`:                                                                                                                                                   {gnu: "sort < README.md | uniq -c", pre: nodeModules},
	`node examples/node/client.js --addr 127.0.0.1:50051 --cacert ca.pem --cert client.pem --key client-key.pem --token-file tokens.txt run 'sort | uniq -c' < README.md`:                                                          {skip: "needs a TLS server with client certificates and tokens (TestExampleTLS)"},
	`tools/node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge -d '{"header":{"pipeline":"wc -l","require_end":true}} {"text":"a\nb\n"} {"end":{"size":4}}' http://127.0.0.1:50051/halfclose.v1.ComputeService/Run`: {check: checkTourRun, pre: bufInstalled},
}

func containsAll(parts ...string) func(testing.TB, result) {
	return func(t testing.TB, r result) {
		for _, p := range parts {
			if !bytes.Contains(r.stdout, []byte(p)) {
				t.Errorf("output lacks %q:\n%s", p, r.stdout)
			}
		}
	}
}

// checkTourDigest returns the check of a Digest reply for "hello\n": the
// digests of algs, no more and no fewer, each as GNU computes it. (A
// check that took any non-empty subset passed the README's call for
// SHA-256 and MD5 with one digest.)
func checkTourDigest(algs ...string) func(testing.TB, result) {
	return func(t testing.TB, r result) {
		var resp struct {
			Size    string
			Digests []struct{ Algorithm, Raw, Hex string }
		}
		if err := json.Unmarshal(r.stdout, &resp); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		gnu := map[string]string{"ALGORITHM_SHA256": "sha256sum", "ALGORITHM_MD5": "md5sum"}
		var got []string
		for _, d := range resp.Digests {
			got = append(got, d.Algorithm)
			tool, ok := gnu[d.Algorithm]
			if !ok {
				continue // not asked for: below
			}
			want := gnuHex(t, tool)
			raw, err := base64.StdEncoding.DecodeString(d.Raw)
			if d.Hex != want || err != nil || fmt.Sprintf("%x", raw) != d.Hex {
				t.Errorf("%s: hex %s raw %s, want %s", d.Algorithm, d.Hex, d.Raw, want)
			}
		}
		if resp.Size != "6" || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(algs))) {
			t.Errorf("reply of size %q with the digests %v, want 6 and %v: %s", resp.Size, got, algs, r.stdout)
		}
	}
}

// Each Digest call of the tour is checked for the digests it asks for,
// no more and no fewer: a reply that lacks one of them, or has one more,
// fails its check (the README's call for SHA-256 and MD5 passed with the
// SHA-256 digest alone).
func TestTourDigestChecks(t *testing.T) {
	need(t, "sha256sum")
	need(t, "md5sum")
	reply := func(algs ...string) result {
		type digest struct{ Algorithm, Raw, Hex string }
		var resp struct {
			Size    string   `json:"size"`
			Digests []digest `json:"digests"`
		}
		resp.Size = "6"
		for _, a := range algs {
			h := gnuHex(t, map[string]string{"ALGORITHM_SHA256": "sha256sum", "ALGORITHM_MD5": "md5sum"}[a])
			raw, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			resp.Digests = append(resp.Digests, digest{a, base64.StdEncoding.EncodeToString(raw), h})
		}
		b, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		return result{stdout: b}
	}
	asked := regexp.MustCompile(`"algorithms":\[([^\]]*)\]`)
	n := 0
	for cmd, c := range tourChecks {
		m := asked.FindStringSubmatch(cmd)
		if m == nil || !strings.Contains(cmd, "ComputeService/Digest") {
			continue
		}
		n++
		algs := strings.Split(strings.ReplaceAll(m[1], `"`, ""), ",")
		if checkFails(t, c.check, reply(algs...)) {
			t.Errorf("%s: the check fails the reply with the digests %v", cmd, algs)
		}
		if !checkFails(t, c.check, reply(algs[1:]...)) {
			t.Errorf("%s: the check passes a reply without the %s digest", cmd, algs[0])
		}
		other := "ALGORITHM_MD5"
		if slices.Contains(algs, other) {
			other = "ALGORITHM_SHA256"
		}
		if !slices.Contains(algs, other) && !checkFails(t, c.check, reply(append(slices.Clone(algs), other)...)) {
			t.Errorf("%s: the check passes a reply with a %s digest it did not ask for", cmd, other)
		}
	}
	if n < 2 {
		t.Errorf("%d Digest calls with algorithms in the tour's checks, want the README's and docs/clients.md's", n)
	}
}

// checkFails runs check on r and says whether it failed, without failing
// t: its Fatal ends the goroutine the check runs on.
func checkFails(t *testing.T, check func(testing.TB, result), r result) bool {
	rec := &failRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(rec, r)
	}()
	<-done
	return rec.failed
}

// failRecorder is a testing.TB that records a failure instead of
// reporting it.
type failRecorder struct {
	testing.TB
	failed bool
}

func (r *failRecorder) Helper()               {}
func (r *failRecorder) Error(...any)          { r.failed = true }
func (r *failRecorder) Errorf(string, ...any) { r.failed = true }
func (r *failRecorder) Fatal(...any)          { r.failed = true; runtime.Goexit() }
func (r *failRecorder) Fatalf(string, ...any) { r.failed = true; runtime.Goexit() }

func gnuHex(t testing.TB, tool string) string {
	out, err := exec.Command("sh", "-c", `printf 'hello\n' | `+tool).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

// checkTourRun: the output message is base64 of what GNU wc -l prints.
func checkTourRun(t testing.TB, r result) {
	dec := json.NewDecoder(bytes.NewReader(r.stdout))
	var out []byte
	var summary bool
	for dec.More() {
		var m struct {
			Output  *string
			Summary *struct{ InputBytes, OutputBytes string }
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if m.Output != nil {
			b, err := base64.StdEncoding.DecodeString(*m.Output)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		if m.Summary != nil {
			summary = m.Summary.InputBytes == "4" && m.Summary.OutputBytes == "2"
		}
	}
	want, _ := exec.Command("sh", "-c", `printf 'a\nb\n' | wc -l`).Output()
	if !bytes.Equal(out, want) || !summary {
		t.Errorf("output %q (want %q), summary ok %v: %s", out, want, summary, r.stdout)
	}
}

// tourCommands returns the tour's commands as the shell reads them: one
// per line, backslash-continued lines joined, comments and blank lines
// left out (a trailing comment stays: bash ignores it).
func tourCommands(t *testing.T, readme []byte) []string {
	t.Helper()
	return blockCommands(t, "README.md", readme, "## A quick tour")
}

// blockCommands returns the commands of the first sh block under heading
// in doc (named name), as tourCommands reads them.
func blockCommands(t *testing.T, name string, doc []byte, heading string) []string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(doc))
	inTour, inBlock := false, false
	var cmds []string
	cur := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !inBlock && strings.HasPrefix(strings.TrimLeft(line, "#"), " ") && strings.HasPrefix(line, "#"):
			if inTour && len(cmds) > 0 {
				return cmds
			}
			inTour = line == heading
		case inTour && !inBlock && line == "```sh":
			inBlock = true
		case inTour && inBlock && line == "```":
			return cmds
		case inTour && inBlock:
			if cur != "" {
				line = strings.TrimLeft(line, " ")
			}
			if strings.HasSuffix(line, `\`) {
				cur += strings.TrimSuffix(line, `\`)
				continue
			}
			line = cur + line
			cur = ""
			if trimmed := strings.TrimSpace(line); trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				cmds = append(cmds, line)
			}
		}
	}
	t.Fatalf("%s has no sh block under %q", name, heading)
	return nil
}

// tourKey is a command without its trailing comment and extra spaces.
func tourKey(cmd string) string {
	if i := strings.Index(cmd, "  #"); i >= 0 {
		cmd = cmd[:i]
	}
	return strings.TrimSpace(cmd)
}

// tourPorts are the fixed addresses the tour uses.
var tourPorts = []string{"127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:7001"}

// tourNSEnv marks the copy of the test binary that runs in namespaces of
// its own: a network namespace (its own loopback, so the fixed ports are
// free whatever else runs) and a mount namespace with a tmpfs on /tmp (so
// /tmp/data is its own).
const tourNSEnv = "HALFCLOSE_E2E_TOUR_NAMESPACE"

// TestTour runs the README's tour. It runs in a child in namespaces of its
// own when the system allows (unprivileged user namespaces); else on this
// machine's loopback, when the tour's ports are free.
func TestTour(t *testing.T) {
	t.Parallel()
	need(t, "nc")
	need(t, "make")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmds := allTourCommands(t, root)
	seen := map[string]bool{}
	for _, c := range cmds {
		if _, ok := tourChecks[tourKey(c)]; !ok {
			t.Errorf("tour command %q (README.md, tourDocBlocks or tourConsoles) has no oracle in e2e/tour_test.go", c)
		}
		seen[tourKey(c)] = true
	}
	for k := range tourChecks {
		if !seen[k] {
			t.Errorf("e2e/tour_test.go checks %q, which the README tour (or tourDocBlocks, tourConsoles) no longer has", k)
		}
	}
	consoleChecks(t, root)
	if t.Failed() {
		return
	}

	if os.Getenv(tourNSEnv) == "" {
		// Build what the tour builds first, on this machine (the child
		// has no network for module downloads): make's targets, and the
		// tools its lines run with go tool (make build tools downloads
		// none of buf's modules: on a fresh machine docs/clients.md's buf
		// curl failed offline in the child).
		if r := runBuild(t, root, "make", "-s", "build", "tools"); r.code != 0 {
			t.Fatalf("make build tools: %s%s", r.stdout, r.stderr)
		}
		for _, argv := range goToolBuilds(cmds) {
			if r := runBuild(t, root, argv...); r.code != 0 {
				t.Fatalf("%s: %s%s", strings.Join(argv, " "), r.stdout, r.stderr)
			}
		}
		if out, err := runTourChild(t); err == nil {
			t.Logf("tour ran in its own namespaces:\n%s", out)
			return
		} else if !errors.Is(err, errNoNamespaces) {
			t.Fatalf("tour: %v\n%s", err, out)
		}
		for _, a := range tourPorts {
			if c, err := net.Dial("tcp", a); err == nil {
				c.Close()
				msg := fmt.Sprintf("%s is in use (make run?) and this system has no user namespaces to run the tour apart", a)
				if os.Getenv("CI") != "" {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
		}
		t.Log("no user namespaces: the tour runs on this machine's loopback and writes /tmp/data")
	}
	runTour(t, root, cmds)
}

// allTourCommands returns the README's tour and then the blocks of
// tourDocBlocks, the commands TestTour runs.
func allTourCommands(t *testing.T, root string) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := tourCommands(t, readme)
	for _, b := range tourDocBlocks {
		doc, err := os.ReadFile(filepath.Join(root, b.doc))
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, blockCommands(t, b.doc, doc, b.heading)...)
	}
	for _, s := range consoleSamples(t, root) {
		cmds = append(cmds, s.cmd)
	}
	return cmds
}

// consoleSample is one "$ COMMAND" of a console sample and the lines the
// doc shows it print.
type consoleSample struct {
	cmd  string
	want []byte
}

// consoleSamples returns tourConsoles' samples, in the docs' order.
func consoleSamples(t *testing.T, root string) []consoleSample {
	t.Helper()
	var out []consoleSample
	seen := map[string]bool{}
	for _, b := range tourConsoles {
		doc, err := os.ReadFile(filepath.Join(root, b.doc))
		if err != nil {
			t.Fatal(err)
		}
		samples, err := parseConsoleBlock(string(doc), b.heading)
		if err != nil {
			t.Fatalf("%s: %v", b.doc, err)
		}
		for _, s := range samples {
			if seen[s.cmd] {
				t.Fatalf("%s: %q is in two console samples: one oracle cannot hold both", b.doc, s.cmd)
			}
			seen[s.cmd] = true
			out = append(out, s)
		}
	}
	return out
}

// parseConsoleBlock returns the samples of the first ``` block of the
// section under heading: "$ COMMAND" lines, each followed by what it
// prints. A block that is not there (the heading renamed, the block
// moved under another heading or turned into prose), or that is not
// made of such samples, is an error, never zero samples.
func parseConsoleBlock(doc, heading string) ([]consoleSample, error) {
	_, rest, ok := strings.Cut("\n"+doc, "\n"+heading+"\n")
	if !ok {
		return nil, fmt.Errorf("no heading %q", heading)
	}
	var block []string
	inBlock, closed := false, false
	for line := range strings.Lines(rest) {
		line = strings.TrimSuffix(line, "\n")
		if !inBlock {
			if strings.HasPrefix(line, "#") {
				break // the next heading: the section had no block
			}
			if strings.HasPrefix(line, "```") {
				if line != "```" && line != "```console" {
					return nil, fmt.Errorf("the first block under %q is %s, not a console sample", heading, line)
				}
				inBlock = true
			}
			continue
		}
		if line == "```" {
			closed = true
			break
		}
		block = append(block, line)
	}
	if !closed || len(block) == 0 || !strings.HasPrefix(block[0], "$ ") {
		return nil, fmt.Errorf("no ``` block of \"$ COMMAND\" lines under %q", heading)
	}
	var out []consoleSample
	for _, line := range block {
		if c, ok := strings.CutPrefix(line, "$ "); ok {
			if strings.TrimSpace(c) == "" {
				return nil, fmt.Errorf("an empty \"$ \" line under %q", heading)
			}
			if slices.ContainsFunc(out, func(s consoleSample) bool { return s.cmd == c }) {
				return nil, fmt.Errorf("%q twice under %q: one oracle cannot hold both", c, heading)
			}
			out = append(out, consoleSample{cmd: c, want: []byte{}})
			continue
		}
		last := &out[len(out)-1]
		last.want = append(last.want, line+"\n"...)
	}
	return out, nil
}

// Every tool a tour line runs with go tool is built before the tour's
// network namespace, where go cannot download it: the buf curl line of
// docs/clients.md failed there on a machine whose module cache had
// only what make build tools fetched.
func TestTourGoToolsBuiltFirst(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	builds := map[string]bool{}
	for _, argv := range goToolBuilds(allTourCommands(t, root)) {
		builds[strings.Join(argv, " ")] = true
	}
	n := 0
	for _, c := range allTourCommands(t, root) {
		if !strings.HasPrefix(c, "go tool ") {
			continue
		}
		n++
		w := strings.Fields(c)
		if want := "go tool -modfile=tools/go.mod -n " + w[3]; w[2] != "-modfile=tools/go.mod" || !builds[want] {
			t.Errorf("%s: the tour does not run %q before it", c, want)
		}
	}
	if n == 0 {
		t.Skip("no tour line runs go tool")
	}
}

// goToolBuilds returns the commands that download and build, without
// running them, the tools the tour's lines run with go tool ("go tool
// -modfile=tools/go.mod buf curl ..." gives "go tool
// -modfile=tools/go.mod -n buf"), once each.
func goToolBuilds(cmds []string) [][]string {
	var out [][]string
	seen := map[string]bool{}
	for _, c := range cmds {
		w := strings.Fields(c)
		if len(w) < 3 || w[0] != "go" || w[1] != "tool" {
			continue
		}
		i := 2
		for i < len(w)-1 && strings.HasPrefix(w[i], "-") {
			i++
		}
		argv := append(append([]string{"go", "tool"}, w[2:i]...), "-n", w[i])
		if k := strings.Join(argv, " "); !seen[k] {
			seen[k] = true
			out = append(out, argv)
		}
	}
	return out
}

// runTour starts `make run`, runs the commands and checks each.
func runTour(t *testing.T, root string, cmds []string) {
	env := tourEnv()
	server := exec.Command("make", "run")
	server.Dir = root
	server.Env = env
	server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var log syncLog
	server.Stdout, server.Stderr = &log, &log
	if err := server.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	// exited is closed when make run has exited, with its error in
	// exitErr: the loop below and the cleanup may both wait for it.
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = server.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-server.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(defaultTestTimeout):
			syscall.Kill(-server.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Errorf("make run did not stop on SIGTERM:\n%s", log.String())
		}
	})
	// make run builds before it listens: a build's bound.
	deadline := time.Now().Add(buildTimeout)
	for _, a := range tourPorts {
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("make run exited: %v\n%s", exitErr, log.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("make run: %s not listening after %v\n%s", a, buildTimeout, log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	consoles := map[string][]byte{}
	for _, s := range consoleSamples(t, root) {
		consoles[s.cmd] = s.want
	}
	for _, c := range cmds {
		check := tourChecks[tourKey(c)]
		if want, ok := consoles[c]; ok {
			t.Run(tourKey(c), func(t *testing.T) { runTourConsole(t, root, env, c, want, check) })
			continue
		}
		if check.skip != "" {
			t.Logf("not run here: %s: %s", c, check.skip)
			continue
		}
		if check.pre != nil {
			t.Run(tourKey(c), func(t *testing.T) {
				if err := check.pre(); err != nil {
					missing(t, "%v", err)
				}
				runTourCommand(t, root, env, c, check)
			})
			continue
		}
		runTourCommand(t, root, env, c, check)
	}
}

// runTourCommand runs one command and checks it with its oracle.
func runTourCommand(t *testing.T, root string, env []string, c string, check tourCheck) {
	r := runBash(t, root, env, c)
	if r.code != 0 {
		t.Errorf("%s\nexit %d, stderr:\n%s", c, r.code, r.stderr)
		return
	}
	if check.gnu != "" {
		want := runBash(t, root, env, check.gnu)
		if want.code != 0 || !bytes.Equal(r.stdout, want.stdout) {
			t.Errorf("%s\n%s\n(oracle: %s, exit %d)", c, diff(r.stdout, want.stdout), check.gnu, want.code)
		}
		return
	}
	t.Run(tourKey(c), func(t *testing.T) { check.check(t, r) })
}

// consoleChecks fails t when a check's fields do not fit its command: a
// console sample is held to its gnu oracle, run after its setup, and to
// nothing else (runTourConsole reads no check, skip or pre: such a field
// would pass it unseen); setup means nothing to another command.
func consoleChecks(t *testing.T, root string) {
	t.Helper()
	console := map[string]bool{}
	for _, s := range consoleSamples(t, root) {
		console[tourKey(s.cmd)] = true
	}
	for k, c := range tourChecks {
		switch {
		case console[k] && (c.gnu == "" || c.check != nil || c.skip != "" || c.pre != nil):
			t.Errorf("console sample %q: its check must be a gnu oracle alone (with its setup)", k)
		case !console[k] && c.setup != "":
			t.Errorf("%q has a setup, which only a console sample's command runs", k)
		}
	}
}

// runTourConsole runs a console sample's command in a directory its setup
// fills, with bin/ first on PATH, and holds what it prints on stdout and
// stderr together, and its exit status, to the doc's lines and to GNU's.
// The setup and the oracle run with the user's PATH, without bin/: what
// they run is the system's GNU tools, never something of the clone's.
func runTourConsole(t *testing.T, root string, env []string, c string, want []byte, check tourCheck) {
	need(t, strings.Fields(check.gnu)[0])
	dir := t.TempDir()
	binEnv := slices.Clone(env)
	for i, kv := range binEnv {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			binEnv[i] = "PATH=" + filepath.Join(root, "bin") + ":" + p
		}
	}
	if r := runBashCombined(t, dir, env, check.setup); r.code != 0 {
		t.Fatalf("setup %q: exit %d: %s", check.setup, r.code, r.stdout)
	}
	got := runBashCombined(t, dir, binEnv, c)
	gnu := runBashCombined(t, dir, env, check.gnu)
	if !bytes.Equal(got.stdout, want) {
		t.Errorf("%s printed what the doc does not show:\n%s", c, diff(got.stdout, want))
	}
	if !bytes.Equal(got.stdout, gnu.stdout) || got.code != gnu.code {
		t.Errorf("%s: exit %d, GNU's (%s) %d\n%s", c, got.code, check.gnu, gnu.code, diff(got.stdout, gnu.stdout))
	}
}

// runBashCombined runs line as runBash does, with its stdout and stderr on
// one pipe (result.stdout), in the order of the writes that made them:
// exec.Cmd gives the child one descriptor for both when Stdout and
// Stderr are the same writer. The order is the program's, not the
// scheduler's: halfclose writes each line with a write of its own, and
// GNU's error() flushes stdout before it writes to stderr.
func runBashCombined(t *testing.T, dir string, env []string, line string) result {
	t.Helper()
	var out bytes.Buffer
	code := runBashTo(t, dir, env, line, &out, &out)
	return result{stdout: out.Bytes(), code: code}
}

// tourEnv is what a user's shell has: no HALFCLOSE_* settings, no make
// state from a make running the tests, the C locale.
func tourEnv() []string {
	var env []string
	for _, kv := range cleanEnv() {
		if k, _, _ := strings.Cut(kv, "="); k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL" || k == tourNSEnv || k == "E2E_BIN_DIR" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func runBash(t *testing.T, dir string, env []string, line string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runBashTo(t, dir, env, line, &out, &errb)
	return result{stdout: out.Bytes(), stderr: errb.Bytes(), code: code}
}

// runBashTo runs line with bash in dir, its output to stdout and stderr,
// and returns its exit status.
func runBashTo(t *testing.T, dir string, env []string, line string, stdout, stderr io.Writer) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--norc", "--noprofile", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", line, err)
	}
	return 0
}

// syncLog collects make run's output.
type syncLog struct{ logSink }

// A console sample that is not where tourConsoles says, or not made of
// "$ COMMAND" lines, is an error, never zero samples: TestTour would
// then hold nothing to the doc.
func TestParseConsoleBlock(t *testing.T) {
	const good = "intro\n## Checking\n\nprose\n```\n$ a x\nout 1\nerr 1\n$ b\n```\n## Next\n"
	got, err := parseConsoleBlock(good, "## Checking")
	want := []consoleSample{{"a x", []byte("out 1\nerr 1\n")}, {"b", []byte{}}}
	if err != nil || !slices.EqualFunc(got, want, func(a, b consoleSample) bool { return a.cmd == b.cmd && bytes.Equal(a.want, b.want) }) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for name, doc := range map[string]string{
		"heading renamed":          "## Checks\n```\n$ a\n```\n",
		"block under next heading": "## Checking\nprose\n## Next\n```\n$ a\n```\n",
		"block under a subheading": "## Checking\nprose\n### Sub\n```\n$ a\n```\n",
		"first block is sh":        "## Checking\n```sh\n```\n$ a\nb\n```\n",
		"empty block":              "## Checking\n```\n```\n",
		"no $ first":               "## Checking\n```\na\n$ b\n```\n",
		"empty command":            "## Checking\n```\n$ \n```\n",
		"command twice":            "## Checking\n```\n$ a\nx\n$ a\ny\n```\n",
		"block not closed":         "## Checking\n```\n$ a\nb\n",
		"no block":                 "## Checking\nprose\n",
	} {
		s, err := parseConsoleBlock(doc, "## Checking")
		if err == nil {
			t.Errorf("%s: %q parsed as %q", name, doc, s)
		} else if name != "heading renamed" && strings.Contains(err.Error(), "no heading") {
			t.Errorf("%s: %v: the case tests nothing", name, err)
		}
	}
}
