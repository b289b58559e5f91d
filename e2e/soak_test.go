//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/leakcheck"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The soak's server limits: small, so that every limit is met often.
const (
	soakMaxJobs  = 6
	soakMaxInput = 4 << 20
	soakSpoolMem = 512 << 10
	soakIdle     = time.Second
)

// soakRec is one client call as its client saw it: the job outcomes the
// server may have logged for it ("" for no job at all), and, when the
// call was made from this process, the local addresses of its
// connections, which the server's log line names (peer, peer.address).
type soakRec struct {
	kind    string
	adapter string   // "grpc" or "tcp"
	want    []string // allowed outcomes; "" = no job line
	peers   []string // local addresses of the call's connections; nil for another process
	code    string   // the gRPC code the client saw ("" for TCP)
	start   time.Time
	end     time.Time
	sent    int64 // input bytes, for an ok call
	recv    int64 // output bytes, for an ok call (-1: not known)
	note    string
}

// soakLine is a job's log line.
type soakLine struct {
	at                                    time.Time
	began                                 time.Time // the job's (or the gRPC call's) start: at less its duration
	adapter, peer, outcome, command, code string
	err                                   string
	in, out                               int64
	raw                                   string
}

type soakTally struct {
	mu    sync.Mutex
	recs  []soakRec
	wrong []string // a result that is not GNU's, or a client's view no outcome explains
}

func (s *soakTally) add(r soakRec) {
	r.end = time.Now()
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *soakTally) bad(format string, args ...any) {
	s.mu.Lock()
	s.wrong = append(s.wrong, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// soakOutcome is the job outcome that the status a client saw implies.
func soakOutcome(code codes.Code) []string {
	switch code {
	case codes.OK:
		return []string{"ok"}
	case codes.InvalidArgument:
		return []string{"invalid"}
	case codes.ResourceExhausted:
		return []string{"limit"}
	case codes.DeadlineExceeded:
		return []string{"idle"}
	case codes.DataLoss:
		return []string{"data_loss"}
	case codes.Canceled:
		return []string{"canceled"}
	case codes.Unauthenticated, codes.PermissionDenied:
		return []string{""}
	}
	return []string{"?" + code.String()}
}

var soakCodeRe = regexp.MustCompile(`\b(CANCELLED|CANCELED|INVALID_ARGUMENT|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED|DATA_LOSS|UNAUTHENTICATED|PERMISSION_DENIED|UNAVAILABLE|INTERNAL|ABORTED|UNKNOWN)\b|Code: ([A-Za-z]+)`)

var soakCamel = regexp.MustCompile(`([a-z])([A-Z])`)

// soakUpper turns a code's Go name (ResourceExhausted) into its proto
// name (RESOURCE_EXHAUSTED).
func soakUpper(camel string) string {
	return strings.ToUpper(soakCamel.ReplaceAllString(camel, "${1}_$2"))
}

// soakCodeOf finds the status a client process printed.
func soakCodeOf(msg []byte) (codes.Code, bool) {
	m := soakCodeRe.FindSubmatch(msg)
	if m == nil {
		return 0, false
	}
	name := string(m[1])
	if name == "" {
		// grpcurl's CamelCase.
		name = soakUpper(string(m[2]))
	}
	if name == "CANCELLED" { // the proto's spelling; Go's is Canceled
		name = "CANCELED"
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if soakUpper(c.String()) == name {
			return c, true
		}
	}
	return 0, false
}

// soakEnv is an integer knob; a bad value fails the test.
func soakEnv(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want an integer >= 0", name, v)
	}
	return n
}

// soakInput is an input file and GNU's answers over it.
type soakInput struct {
	path string
	size int64
	gnu  map[string][]byte // pipeline → GNU's output
}

// soakPipelines are run over the inputs; the sorting ones only over
// inputs below --spool-mem, so that no ok job spills (a spill competes
// for --spool-disk with the overflow calls, and would fail at random).
var soakPipelines = []string{"sha256sum", "md5sum", "wc -l", "grep -c e", "tr -d 0-9 | wc -c", "head -n 3", "cut -c 1-8 | tail -n 2"}
var soakSortPipelines = []string{"sort | uniq -c | sort -rn | head -n 5", "sort -u | wc -l"}

func soakText(t *testing.T, n int, seed uint64) string {
	return cachedFile(t, fmt.Sprintf("soak-text-%d-%d", n, seed), func(w io.Writer) error {
		rng := rand.New(rand.NewPCG(seed, 1))
		words := []string{"alpha", "beta", "gamma", "delta", "error", "warn", "info", "debug", "x9", "e"}
		written := 0
		for written < n {
			line := fmt.Sprintf("%s %s %d\n", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(100))
			if written+len(line) > n {
				line = line[:n-written]
			}
			io.WriteString(w, line)
			written += len(line)
		}
		return nil
	})
}

func soakGNU(t *testing.T, path, pipeline string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("timeout", "10", "bash", "-c", pipeline)
	cmd.Env = cleanEnv()
	cmd.Stdin = f
	out, err := cmd.Output()
	// grep -c that counted no line exits 1.
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		t.Fatalf("GNU %q < %s: %v", pipeline, path, err)
	}
	return out
}

// TestSoak drives one halfclosed for SOAK_SECONDS (opt-in: skipped
// without it; make soak) with a mixed load of every client (the Go
// library and raw stubs, the Python and Node examples, grpcurl, the CLI,
// nc -N and socat on the command port and a route) and every kind of
// abort (cancels, resets, deadlines, idle and header timeouts, the input,
// job and spool-disk limits, bad pipelines, bad tokens) while its token
// file is rotated. It then holds the server's accounting to what the
// clients saw: one log line per job, each with the outcome the client's
// status implies (matched call by call, by the client's local address,
// for the calls made from this process), the bytes of each ok job, the
// metrics' counters equal to the log's, every gauge back to 0, and no
// spill file left. Between SOAK_PHASES phases of load it samples the
// server's RSS, heap (after a GC), goroutines, threads and descriptors
// every SOAK_SAMPLE seconds, and fails when the quiet server holds more
// descriptors, or other goroutines than its pools', than at its start.
func TestSoak(t *testing.T) {
	secs := soakEnv(t, "SOAK_SECONDS", 0)
	if secs == 0 {
		t.Skip("SOAK_SECONDS unset: the soak is opt-in (make soak)")
	}
	workers := soakEnv(t, "SOAK_WORKERS", 6)
	phases := max(1, soakEnv(t, "SOAK_PHASES", 3))
	sampleEvery := time.Duration(max(1, soakEnv(t, "SOAK_SAMPLE", 30))) * time.Second
	for _, tool := range []string{"nc", "socat", "bash", "timeout"} {
		need(t, tool)
	}
	// The Go calls dial from 127.0.0.2 (soakDialer): Linux routes all
	// of 127/8 to lo, but a loopback holding 127.0.0.1/32 alone (some
	// containers and sandboxes) refuses the address, and every call
	// would fail as a mismatch rather than say so.
	if l, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		missing(t, "127.0.0.2 is not a local address here (the soak's Go calls dial from it): %v", err)
	} else {
		l.Close()
	}
	cli, grpcurl := bin(t, "halfclose"), bin(t, "grpcurl")
	py, node := exampleClient(t, "python"), exampleClient(t, "node")

	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		t.Fatal(err)
	}
	const good = "soak-good-token"
	tokens := filepath.Join(dir, "tokens.txt")
	writeTokens := func(extra string) {
		tmp := tokens + ".new"
		if err := os.WriteFile(tmp, []byte(good+"\n"+extra+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokens); err != nil {
			t.Fatal(err)
		}
	}
	writeTokens("rotated-0")
	goodFile := writeFile(t, dir, "good.txt", []byte(good+"\n"))
	badFile := writeFile(t, dir, "bad.txt", []byte("not-a-token\n"))

	d := launch(t, "--metrics-addr", "127.0.0.1:0", "--pprof", "--tcp-route", "127.0.0.1:0=sha256sum",
		"--auth-token-file", tokens, "--tcp-insecure",
		"--max-jobs", strconv.Itoa(soakMaxJobs), "--max-jobs-per-peer", "0", "--max-requests-per-peer", "0", "--job-wait", "100ms",
		"--max-input-bytes", strconv.Itoa(soakMaxInput), "--idle-timeout", soakIdle.String(), "--header-timeout", "1s",
		"--spool-mem", strconv.Itoa(soakSpoolMem), "--spool-dir", spool, "--spool-disk", "2MiB", "--tcp-fin-wait", "1s")
	maddr := d.metricsAddr(t)
	pid := d.cmd.Process.Pid
	route := d.Routes["sha256sum"]

	// Inputs, and GNU's answers.
	var small, all []*soakInput
	for i, n := range []int{0, 1000, 100 << 10, 300 << 10, 1 << 20, 3 << 20} {
		in := &soakInput{path: soakText(t, n, uint64(i)), size: int64(n), gnu: map[string][]byte{}}
		ps := soakPipelines
		if n < soakSpoolMem {
			ps = append(slices.Clone(ps), soakSortPipelines...)
			small = append(small, in)
		}
		for _, p := range ps {
			in.gnu[p] = soakGNU(t, in.path, p)
		}
		all = append(all, in)
	}
	big := randomFile(t, soakMaxInput+1<<20) // over --max-input-bytes
	spill := soakText(t, 3<<20, 99)          // sort spills more than --spool-disk

	var tally soakTally
	s := &soaker{t: t, d: d, tally: &tally, good: good, goodFile: goodFile, badFile: badFile, route: route,
		cli: cli, grpcurl: grpcurl, py: py, node: node, small: small, all: all, big: big, spill: spill}

	var samples []soakSample
	sample := func(label string) soakSample {
		sm := soakTake(t, pid, maddr, spool, label)
		samples = append(samples, sm)
		t.Logf("%s", sm)
		return sm
	}
	base := sample("start")

	rotations, lastRotation := 0, base.at
	var quiet []soakSample
	var callsAt []int // the calls made by each quiet sample
	per := time.Duration(secs) * time.Second / time.Duration(phases)
	for ph := range phases {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(ph), uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					s.call(rng)
				}
			}()
		}
		// Now and then every job slot at once, held until the server
		// gives up on them: --max-jobs and --job-wait for the rest.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(7 * time.Second):
				}
				var bw sync.WaitGroup
				for range soakMaxJobs + 3 {
					bw.Add(1)
					go func() { defer bw.Done(); s.grpcHold(codes.OK) }()
				}
				bw.Wait()
			}
		}()
		end := time.Now().Add(per)
		next := time.Now().Add(sampleEvery)
		for time.Now().Before(end) {
			time.Sleep(time.Second) // pacing, not synchronisation
			if time.Now().After(next) {
				sample(fmt.Sprintf("phase %d load", ph+1))
				next = time.Now().Add(sampleEvery)
			}
			// Every 20 s of load: counted from the last rotation, not
			// the start, so that a phase never begins with a burst of
			// the rotations its quiet gap missed, a second apart, which
			// the server's 1 s poll may see as one.
			if time.Since(lastRotation) >= 20*time.Second {
				rotations++
				writeTokens(fmt.Sprintf("rotated-%d", rotations))
				lastRotation = time.Now()
			}
		}
		close(stop)
		wg.Wait()
		s.quiesce(maddr)
		label := fmt.Sprintf("phase %d quiet", ph+1)
		sm := soakTake(t, pid, maddr, spool, label)
		// The server closes the metrics scrapes' connections after
		// their replies, and a timer's goroutine (the refusals' log
		// line) may be running: wait for them to go.
		for deadline := time.Now().Add(10 * time.Second); (sm.fds > base.fds || sm.own > base.own) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			sm = soakTake(t, pid, maddr, spool, label)
		}
		samples = append(samples, sm)
		t.Logf("%s", sm)
		quiet = append(quiet, sm)
		tally.mu.Lock()
		callsAt = append(callsAt, len(tally.recs))
		tally.mu.Unlock()
	}

	// Every rotation was served (each is a change of size or inode).
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		m := soakMetrics(t, maddr)
		if got := m[`halfclose_reloads_total{file="token",result="ok"}`]; int(got) == rotations {
			break
		} else if time.Now().After(deadline) {
			t.Errorf("token reloads: %v ok, %d rotations", got, rotations)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.check(maddr, spool)

	// A quiet server runs the goroutines it started with, besides its
	// pools' (gRPC's workers, the TCP connection workers, which a load
	// grows), and no more descriptors.
	last := quiet[len(quiet)-1]
	if last.own > base.own || last.fds > base.fds || last.spill != 0 {
		t.Errorf("a quiet server holds more after the load than at its start:\n%s %v\n%s %v", base, base.fdNames, last, last.fdNames)
		if resp, err := metricsClient.Get("http://" + maddr + "/debug/pprof/goroutine?debug=1"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("goroutines:\n%s", b)
		}
	}
	// The heap at rest holds the caches a first load fills; after that
	// it may not grow with the calls: a leak of 512 bytes a call shows
	// over the later phases (4 KiB a job kept: 6 MiB in a 45 s phase).
	if len(quiet) > 1 {
		grew, calls := last.heap-quiet[0].heap, callsAt[len(callsAt)-1]-callsAt[0]
		if allowed := int64(soakHeapSlack + soakHeapPerCall*calls); grew > allowed {
			t.Errorf("the heap at rest grew %.1f MiB over %d calls after the first phase (%s; %s), more than %.1f MiB", float64(grew)/(1<<20), calls, quiet[0], last, float64(allowed)/(1<<20))
		}
	}
	peak := base
	for _, sm := range samples {
		peak.rss, peak.heap = max(peak.rss, sm.rss), max(peak.heap, sm.heap)
		peak.goroutines, peak.fds, peak.threads = max(peak.goroutines, sm.goroutines), max(peak.fds, sm.fds), max(peak.threads, sm.threads)
	}
	peak.label = "peak"
	t.Logf("start %s\npeak  %s\nend   %s", base, peak, last)
}

// soaker makes the calls.
type soaker struct {
	t                       *testing.T
	d                       *daemon
	tally                   *soakTally
	good, goodFile, badFile string
	route                   string
	cli, grpcurl            string
	py, node                []string
	small, all              []*soakInput
	big, spill              string
}

// soakKinds are the calls, with their weights.
var soakKinds = []struct {
	name   string
	weight int
}{
	{"go-digest", 6}, {"go-run", 6}, {"go-invalid", 1}, {"go-limit", 1}, {"go-spool", 1}, {"go-dataloss", 1},
	{"go-cancel", 3}, {"go-deadline", 1}, {"go-idle", 1}, {"go-badtoken", 1}, {"go-notoken", 1},
	{"tcp-run", 5}, {"tcp-route", 3}, {"tcp-invalid", 1}, {"tcp-limit", 1}, {"tcp-rst", 3}, {"tcp-idle", 1},
	{"tcp-header-timeout", 1}, {"tcp-denied", 1},
	{"py-digest", 1}, {"py-run", 1}, {"py-badtoken", 1}, {"node-digest", 1}, {"node-run", 1},
	{"grpcurl-digest", 1}, {"grpcurl-invalid", 1}, {"cli-digest", 1}, {"cli-run", 1}, {"cli-tcp", 1}, {"cli-kill", 2},
	{"nc-run", 2}, {"nc-route", 1}, {"nc-size-kill", 1}, {"socat-run", 1},
}

func (s *soaker) call(rng *rand.Rand) {
	total := 0
	for _, k := range soakKinds {
		total += k.weight
	}
	n := rng.IntN(total)
	kind := ""
	for _, k := range soakKinds {
		if n < k.weight {
			kind = k.name
			break
		}
		n -= k.weight
	}
	in := s.all[rng.IntN(len(s.all))]
	pipeline := soakPipelines[rng.IntN(len(soakPipelines))]
	if rng.IntN(3) == 0 {
		in = s.small[rng.IntN(len(s.small))]
		pipeline = soakSortPipelines[rng.IntN(len(soakSortPipelines))]
	}
	switch kind {
	case "go-digest":
		s.goDigest(in, nil)
	case "go-dataloss":
		n := in.size + 1
		s.goDigest(in, &n)
	case "go-run":
		s.goRun(kind, pipeline, in.path, in.gnu[pipeline])
	case "go-invalid":
		s.goRun(kind, []string{"frob", "sort -Q", "grep -P x", "wc |", "sha256sum | frob"}[rng.IntN(5)], in.path, nil)
	case "go-limit":
		s.goRun(kind, "wc -c", s.big, nil)
	case "go-spool":
		s.goRun(kind, "sort", s.spill, nil)
	case "go-cancel":
		s.grpcHold(codes.Canceled, rng.IntN(64))
	case "go-deadline":
		s.grpcHold(codes.DeadlineExceeded)
	case "go-idle":
		s.grpcHold(codes.OK)
	case "go-badtoken", "go-notoken":
		s.goAuth(kind)
	case "tcp-run":
		s.tcp(kind, "", "@token="+s.good+" "+pipeline, in, pipeline)
	case "tcp-route":
		s.tcp(kind, s.route, "", in, "sha256sum")
	case "tcp-invalid":
		s.tcp(kind, "", "@token="+s.good+" frob", in, "")
	case "tcp-denied":
		s.tcp(kind, "", "@token=bad wc", in, "")
	case "tcp-limit":
		s.tcp(kind, "", "@token="+s.good+" wc -c", &soakInput{path: s.big}, "")
	case "tcp-rst", "tcp-idle", "tcp-header-timeout":
		s.tcpAbort(kind, rng)
	case "py-digest", "node-digest":
		argv := slices.Concat(s.py, []string{"--addr", s.d.GRPC, "--token-file", s.goodFile, "digest", "-a", "sha256", in.path})
		if kind == "node-digest" {
			argv = slices.Concat(s.node, []string{"--addr", s.d.GRPC, "--token-file", s.goodFile, "digest", "-a", "sha256", in.path})
		}
		s.proc(kind, "grpc", argv, "", in.size, -1, s.sumLine(in, in.path))
	case "py-run", "node-run":
		client := s.py
		if kind == "node-run" {
			client = s.node
		}
		s.proc(kind, "grpc", slices.Concat(client, []string{"--addr", s.d.GRPC, "--token-file", s.goodFile, "run", pipeline}), in.path, in.size, int64(len(in.gnu[pipeline])), in.gnu[pipeline])
	case "py-badtoken":
		s.proc(kind, "grpc", slices.Concat(s.py, []string{"--addr", s.d.GRPC, "--token-file", s.badFile, "run", "wc"}), in.path, 0, 0, nil)
	case "grpcurl-digest":
		text := fmt.Sprintf("soak %d\n", rng.Int64())
		sum := sha256.Sum256([]byte(text))
		body := fmt.Sprintf(`{"header":{"algorithms":["ALGORITHM_SHA256"]}} {"text":%q}`, text)
		s.proc(kind, "grpc", []string{s.grpcurl, "-plaintext", "-H", "authorization: Bearer " + s.good, "-d", body, s.d.GRPC, "halfclose.v1.ComputeService/Digest"},
			"", int64(len(text)), 0, []byte(`"hex": "`+hex.EncodeToString(sum[:])+`"`))
	case "grpcurl-invalid":
		s.proc(kind, "grpc", []string{s.grpcurl, "-plaintext", "-H", "authorization: Bearer " + s.good, "-d", `{"header":{"pipeline":"frob"}}`, s.d.GRPC, "halfclose.v1.ComputeService/Run"}, "", 0, 0, nil)
	case "cli-digest":
		s.proc(kind, "grpc", []string{s.cli, "--addr", s.d.GRPC, "--token-file", s.goodFile, "sha256sum", in.path}, "", in.size, -1, s.sumLine(in, in.path))
	case "cli-run":
		s.proc(kind, "grpc", []string{s.cli, "--addr", s.d.GRPC, "--token-file", s.goodFile, pipeline}, in.path, in.size, int64(len(in.gnu[pipeline])), in.gnu[pipeline])
	case "cli-tcp":
		s.proc(kind, "tcp", []string{s.cli, "--tcp", "--tcp-addr", s.d.TCP, "--token-file", s.goodFile, pipeline}, in.path, in.size, -1, in.gnu[pipeline])
	case "nc-run", "socat-run":
		hdr := writeFile(s.t, s.t.TempDir(), "hdr", []byte("@token="+s.good+" "+pipeline+"\n"))
		sh := fmt.Sprintf("cat %s %s | nc -N %s %s", hdr, in.path, strings.Split(s.d.TCP, ":")[0], strings.Split(s.d.TCP, ":")[1])
		if kind == "socat-run" {
			sh = fmt.Sprintf("cat %s %s | socat -t 30 - TCP:%s", hdr, in.path, s.d.TCP)
		}
		s.proc(kind, "tcp", []string{"bash", "-c", sh}, "", in.size, int64(len(in.gnu[pipeline])), in.gnu[pipeline])
	case "nc-route":
		host, port, _ := net.SplitHostPort(s.route)
		s.proc(kind, "tcp", []string{"nc", "-N", host, port}, in.path, in.size, int64(len(in.gnu["sha256sum"])), in.gnu["sha256sum"])
	case "cli-kill", "nc-size-kill":
		s.kill(kind, rng)
	}
}

// sumLine is GNU sha256sum's line for the file.
func (s *soaker) sumLine(in *soakInput, name string) []byte {
	return []byte(strings.TrimSuffix(string(in.gnu["sha256sum"]), "-\n") + name + "\n")
}

// soakDialer dials from 127.0.0.2: the client processes' connections
// come from 127.0.0.1, so a port they use again is never mistaken for
// one of the calls matched by address.
var soakDialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: defaultTestTimeout}

// peerDialer dials and keeps the local addresses of the connections.
type peerDialer struct {
	mu    sync.Mutex
	start time.Time // of the first dial
	addrs []string
}

func (p *peerDialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	p.mu.Lock()
	if p.start.IsZero() {
		p.start = time.Now()
	}
	p.mu.Unlock()
	c, err := soakDialer.DialContext(ctx, "tcp", addr)
	if err == nil {
		p.mu.Lock()
		p.addrs = append(p.addrs, c.LocalAddr().String())
		p.mu.Unlock()
	}
	return c, err
}

func (p *peerDialer) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.addrs)
}

func (s *soaker) goClient(token string) (*client.Client, *peerDialer) {
	var pd peerDialer
	c, err := client.Dial(s.d.GRPC, client.WithToken(token), client.WithDialOptions(grpc.WithContextDialer(pd.dial)))
	if err != nil {
		s.tally.bad("client.Dial: %v", err)
		return nil, nil
	}
	return c, &pd
}

func (s *soaker) goDigest(in *soakInput, declared *int64) {
	kind := "go-digest"
	if declared != nil {
		kind = "go-dataloss"
	}
	c, pd := s.goClient(s.good)
	if c == nil {
		return
	}
	defer c.Close()
	f, err := os.Open(in.path)
	if err != nil {
		s.t.Error(err)
		return
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	resp, err := c.Digest(ctx, f, []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, &client.DigestOptions{ExpectedSize: declared})
	code := status.Code(err)
	r := soakRec{kind: kind, adapter: "grpc", want: soakOutcome(code), peers: pd.list(), start: pd.start, code: code.String(), sent: in.size}
	if err == nil {
		if got := resp.GetDigests()[0].GetHex() + "  -\n"; got != string(in.gnu["sha256sum"]) || resp.GetSize() != in.size {
			s.tally.bad("%s %s: %q size %d, GNU %q", kind, in.path, got, resp.GetSize(), in.gnu["sha256sum"])
		}
		if declared != nil {
			s.tally.bad("%s: ok with a wrong declared size", kind)
		}
	} else {
		r.note = err.Error()
	}
	s.tally.add(r)
}

func (s *soaker) goRun(kind, pipeline, path string, want []byte) {
	c, pd := s.goClient(s.good)
	if c == nil {
		return
	}
	defer c.Close()
	f, err := os.Open(path)
	if err != nil {
		s.t.Error(err)
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var out bytes.Buffer
	_, err = c.Run(ctx, pipeline, f, &out)
	code := status.Code(err)
	r := soakRec{kind: kind, adapter: "grpc", want: soakOutcome(code), peers: pd.list(), start: pd.start, code: code.String(), sent: st.Size(), recv: int64(out.Len())}
	if err == nil && (want == nil || !bytes.Equal(out.Bytes(), want)) {
		s.tally.bad("%s %q < %s: exit 0, %s", kind, pipeline, path, diff(out.Bytes(), want))
	}
	if err != nil {
		r.note = err.Error()
	}
	s.tally.add(r)
}

func (s *soaker) goAuth(kind string) {
	token := "not-a-token"
	if kind == "go-notoken" {
		token = ""
	}
	c, pd := s.goClient(token)
	if c == nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	_, err := c.Run(ctx, "wc", strings.NewReader("x\n"), io.Discard)
	code := status.Code(err)
	if code != codes.PermissionDenied && code != codes.Unauthenticated {
		s.tally.bad("%s: %v", kind, err)
	}
	s.tally.add(soakRec{kind: kind, adapter: "grpc", want: soakOutcome(code), peers: pd.list(), start: pd.start, code: code.String()})
}

// grpcHold opens a Run stream from a raw stub, sends its header and
// chunks of input, and then: with codes.Canceled, cancels it; with
// codes.DeadlineExceeded, waits out a short deadline; with codes.OK,
// waits for the server to end it (the idle timeout, or --max-jobs).
func (s *soaker) grpcHold(how codes.Code, chunks ...int) {
	kind := map[codes.Code]string{codes.Canceled: "go-cancel", codes.DeadlineExceeded: "go-deadline", codes.OK: "go-idle"}[how]
	var pd peerDialer
	cc, err := grpc.NewClient("passthrough:///"+s.d.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(pd.dial))
	if err != nil {
		s.tally.bad("grpc.NewClient: %v", err)
		return
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	if how == codes.DeadlineExceeded {
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	}
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.good)
	st, err := apiv1.NewComputeServiceClient(cc).Run(ctx)
	n := 1
	if len(chunks) > 0 {
		n = chunks[0]
	}
	if err == nil {
		err = st.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: "wc -c", RequireEnd: true}}})
	}
	chunk := make([]byte, 32<<10)
	for i := 0; err == nil && i < n; i++ {
		err = st.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Data{Data: chunk}})
	}
	if how == codes.Canceled {
		cancel()
	}
	if err == nil || errors.Is(err, io.EOF) {
		_, err = st.Recv()
	}
	code := status.Code(err)
	want := soakOutcome(code)
	switch {
	case how == codes.Canceled && code == codes.Canceled:
		// The cancel may reach the server before the stream's header.
		want = []string{"canceled", ""}
	case how == codes.DeadlineExceeded && code == codes.DeadlineExceeded:
		// So may the deadline, on a loaded machine: the call never
		// reached the server. And the client's reset at its deadline
		// is a cancel to the server unless it comes within 20 ms of
		// the server's own deadline, which starts when the stream's
		// headers arrive (docs/operations.md): a stream delayed more
		// than that on the way is canceled.
		want = []string{"idle", "canceled", ""}
	}
	if code != codes.DeadlineExceeded && code != codes.ResourceExhausted && code != how {
		s.tally.bad("%s: %v", kind, err)
	}
	s.tally.add(soakRec{kind: kind, adapter: "grpc", want: want, peers: pd.list(), start: pd.start, code: code.String(), note: fmt.Sprint(err)})
}

var soakErrLine = regexp.MustCompile(`^halfclose: error: ([A-Z_]+): [^\n]*\n$`)

// tcpOutcome is the outcome a raw-TCP reply implies: an error line's
// code, or ok.
func tcpOutcome(reply []byte) (string, []string) {
	m := soakErrLine.FindSubmatch(reply)
	if m == nil {
		return "", []string{"ok"}
	}
	switch string(m[1]) {
	case "UNAUTHENTICATED", "PERMISSION_DENIED":
		return string(m[1]), []string{"denied"}
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if soakUpper(c.String()) == string(m[1]) {
			return string(m[1]), soakOutcome(c)
		}
	}
	return string(m[1]), []string{"?" + string(m[1])}
}

// tcp sends header (none on a route) and the input, half-closes, reads
// the reply.
func (s *soaker) tcp(kind, addr, header string, in *soakInput, pipeline string) {
	if addr == "" {
		addr = s.d.TCP
	}
	start := time.Now()
	c, err := soakDialer.Dial("tcp", addr)
	if err != nil {
		s.tally.bad("%s: %v", kind, err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	local := c.LocalAddr().String()
	sent := make(chan int64, 1)
	go func() {
		var n int64
		if header != "" {
			io.WriteString(c, header+"\n")
		}
		if f, err := os.Open(in.path); err == nil {
			n, _ = io.Copy(c, f)
			f.Close()
		}
		c.(*net.TCPConn).CloseWrite()
		sent <- n
	}()
	reply, rerr := io.ReadAll(c)
	n := <-sent
	code, want := tcpOutcome(reply)
	r := soakRec{kind: kind, adapter: "tcp", want: want, peers: []string{local}, start: start, code: code, sent: n, recv: int64(len(reply))}
	if rerr != nil {
		r.note = rerr.Error()
	}
	switch {
	case code == "" && rerr != nil:
		// A reset after the output started: a failure the client sees.
		r.want = []string{"reset", "limit", "idle", "internal"}
	case code == "" && (pipeline == "" || !bytes.Equal(reply, in.gnu[pipeline])):
		s.tally.bad("%s %q: reply %s", kind, header, diff(reply, in.gnu[pipeline]))
	case code == "" && n != in.size:
		s.tally.bad("%s: sent %d of %d", kind, n, in.size)
	}
	s.tally.add(r)
}

// tcpAbort: a reset (SO_LINGER 0) at a random point, a stall after some
// input (the idle timeout), or a header never finished (header timeout).
func (s *soaker) tcpAbort(kind string, rng *rand.Rand) {
	start := time.Now()
	c, err := soakDialer.Dial("tcp", s.d.TCP)
	if err != nil {
		s.tally.bad("%s: %v", kind, err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	r := soakRec{kind: kind, adapter: "tcp", peers: []string{c.LocalAddr().String()}, start: start}
	switch kind {
	case "tcp-rst":
		io.WriteString(c, "@token="+s.good+" sha256sum\n")
		c.Write(make([]byte, rng.IntN(256<<10)))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		// Or refused at --max-jobs before the reset came.
		r.want = []string{"reset", "limit", ""}
	case "tcp-idle", "tcp-header-timeout":
		if kind == "tcp-idle" {
			io.WriteString(c, "@token="+s.good+" sha256sum\nsome input")
		} else {
			io.WriteString(c, "@token="+s.good+" sha2")
		}
		reply, err := io.ReadAll(c)
		r.note = fmt.Sprintf("%q %v", reply, err)
		r.code, r.want = tcpOutcome(reply)
		if r.code == "" {
			// Nothing written: the abort, as the server's idle
			// and header timeouts are.
			r.want = []string{"idle"}
		}
	}
	s.tally.add(r)
}

// proc runs a client process; an exit 0 must print want (contain it, for
// grpcurl's JSON), a failure must name a status.
func (s *soaker) proc(kind, adapter string, argv []string, stdin string, sent, recv int64, want []byte) {
	res, err := runQuiet(stdin, argv...)
	if err != nil {
		s.tally.bad("%s: %v", kind, err)
		s.tally.add(soakRec{kind: kind, adapter: adapter, want: []string{"?"}})
		return
	}
	r := soakRec{kind: kind, adapter: adapter, sent: sent, recv: recv}
	okOut := want != nil && (bytes.Equal(res.stdout, want) || kind == "grpcurl-digest" && bytes.Contains(res.stdout, want))
	switch {
	case res.code == 0 && adapter == "tcp" && soakErrLine.Match(res.stdout):
		r.code, r.want = tcpOutcome(res.stdout)
	case okOut && (res.code == 0 || len(res.stderr) == 0):
		// A client passes on the pipeline's exit status (grep -c
		// that counted no line exits 1).
		r.code, r.want = "OK", []string{"ok"}
	case res.code == 0:
		s.tally.bad("%s %q: exit 0, %s", kind, argv, diff(res.stdout, want))
		r.want = []string{"?"}
	default:
		c, ok := soakCodeOf(res.stderr)
		if !ok {
			s.tally.bad("%s %q: exit %d, no status in %q", kind, argv, res.code, res.stderr)
			r.want = []string{"?"}
			break
		}
		r.code, r.want = c.String(), soakOutcome(c)
		if strings.HasPrefix(r.want[0], "?") {
			s.tally.bad("%s %q: exit %d: %s", kind, argv, res.code, res.stderr)
		}
		if adapter == "tcp" && (c == codes.PermissionDenied || c == codes.Unauthenticated) {
			r.want = []string{"denied"}
		}
		r.note = string(res.stderr)
	}
	s.tally.add(r)
}

// kill starts a client on a pipe, gives it some input, and kills it
// (SIGKILL): the CLI over gRPC (the kernel closes its connection), or nc
// with a declared @size (its FIN comes before the size).
func (s *soaker) kill(kind string, rng *rand.Rand) {
	argv := []string{s.cli, "--addr", s.d.GRPC, "--token-file", s.goodFile, "sha256sum"}
	// Or refused at --max-jobs before the kill, or idle: a CLI starved
	// of CPU for --idle-timeout between its header and its input (load
	// 20: 1 kill in 46 was DEADLINE_EXCEEDED on the server).
	want := []string{"canceled", "limit", "idle", ""}
	adapter := "grpc"
	if kind == "nc-size-kill" {
		host, port, _ := net.SplitHostPort(s.d.TCP)
		argv = []string{"nc", "-N", host, port}
		// Killed before its header went out whole: a FIN with no
		// header line (invalid), or none yet (the header timeout).
		want = []string{"aborted", "limit", "invalid", "idle", ""}
		adapter = "tcp"
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	w, err := cmd.StdinPipe()
	if err != nil {
		s.t.Error(err)
		return
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Error(err)
		return
	}
	if kind == "nc-size-kill" {
		io.WriteString(w, "@token="+s.good+" @size=1000000 sha256sum\n")
	}
	w.Write(make([]byte, rng.IntN(100<<10)))
	time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond) // a random point, not synchronisation
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	w.Close()
	s.tally.add(soakRec{kind: kind, adapter: adapter, want: want, note: out.String()})
}

// quiesce waits until no job, connection or spill is left.
func (s *soaker) quiesce(maddr string) {
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		m := soakMetrics(s.t, maddr)
		busy := m["halfclose_jobs_in_flight"] + m["halfclose_jobs_waiting"] + m["halfclose_tcp_connections"] + m["halfclose_grpc_connections"] + m["halfclose_spool_disk_bytes"]
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Errorf("not quiet %v after the load: in flight %v, waiting %v, tcp %v, grpc %v, spool %v", defaultTestTimeout,
				m["halfclose_jobs_in_flight"], m["halfclose_jobs_waiting"], m["halfclose_tcp_connections"], m["halfclose_grpc_connections"], m["halfclose_spool_disk_bytes"])
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakMetrics reads /metrics: series (name{labels}) → value.
func soakMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := metricsClient.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// check holds the log and the metrics to the clients' tallies.
func (s *soaker) check(maddr, spool string) {
	t := s.t
	// The log is written in batches: wait for as many job lines as the
	// metrics count jobs.
	var lines []soakLine
	var authCalls map[string]int
	deadline := time.Now().Add(defaultTestTimeout)
	var m map[string]float64
	for {
		m = soakMetrics(t, maddr)
		jobs := 0.0
		for k, v := range m {
			if strings.HasPrefix(k, "halfclose_jobs_total{") {
				jobs += v
			}
		}
		lines, authCalls = soakLines(s.d)
		if float64(len(lines)) == jobs || time.Now().After(deadline) {
			if float64(len(lines)) != jobs {
				t.Errorf("%d job log lines, halfclose_jobs_total %v", len(lines), jobs)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Metrics against the log: jobs by command and outcome, bytes.
	byMetric := map[string]float64{}
	var in, out int64
	for _, l := range lines {
		cmd := l.command
		byMetric[cmd+"|"+l.outcome]++
		in += l.in
		out += l.out
	}
	logByOutcome, metByOutcome := map[string]float64{}, map[string]float64{}
	for k, v := range byMetric {
		logByOutcome[k[strings.IndexByte(k, '|')+1:]] += v
	}
	outcomeRe := regexp.MustCompile(`outcome="([a-z_]+)"`)
	for k, v := range m {
		if strings.HasPrefix(k, "halfclose_jobs_total{") {
			metByOutcome[outcomeRe.FindStringSubmatch(k)[1]] += v
		}
	}
	for o := range soakUnion(logByOutcome, metByOutcome) {
		if logByOutcome[o] != metByOutcome[o] {
			t.Errorf("outcome %s: %v log lines, %v in halfclose_jobs_total", o, logByOutcome[o], metByOutcome[o])
		}
	}
	if float64(in) != m["halfclose_input_bytes_total"] || float64(out) != m["halfclose_output_bytes_total"] {
		t.Errorf("bytes: log in %d out %d; metrics in %v out %v", in, out, m["halfclose_input_bytes_total"], m["halfclose_output_bytes_total"])
	}
	for _, g := range []string{"halfclose_jobs_in_flight", "halfclose_jobs_waiting", "halfclose_tcp_connections", "halfclose_grpc_connections", "halfclose_spool_disk_bytes"} {
		if m[g] != 0 {
			t.Errorf("%s = %v after the load", g, m[g])
		}
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Errorf("%d files left in --spool-dir", len(ents))
	}

	// The calls made here, matched by address.
	byPeer := map[string][]int{}
	for i, l := range lines {
		byPeer[l.adapter+" "+l.peer] = append(byPeer[l.adapter+" "+l.peer], i)
	}
	used := make([]bool, len(lines))
	s.tally.mu.Lock()
	recs := s.tally.recs
	wrong := s.tally.wrong
	s.tally.mu.Unlock()
	kinds := map[string]int{}
	neverCame := map[string]int{} // gRPC calls with no job line, by the code their client saw
	lateDeadline := 0             // deadlines the server counted as cancels
	mismatch := map[string]int{}
	var examples []string
	bad := func(key, ex string) {
		mismatch[key]++
		if mismatch[key] <= 3 {
			examples = append(examples, ex)
		}
	}
	// A local port is used again by later calls: a call's line is the
	// one of its address whose job (TCP) or call (gRPC) began after the
	// call's start, and before the next call from that address started
	// (an abort's job may begin after its client is gone: a reset
	// connection's queued header is read after the reset).
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b soakRec) int { return a.start.Compare(b.start) })
	nextStart := map[string]time.Time{} // address → the start of the next call from it
	bounds := make([]time.Time, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		bounds[i] = recs[i].end.Add(defaultTestTimeout)
		for _, p := range recs[i].peers {
			k := recs[i].adapter + " " + p
			if n, ok := nextStart[k]; ok && n.Before(bounds[i]) {
				bounds[i] = n
			}
		}
		for _, p := range recs[i].peers {
			nextStart[recs[i].adapter+" "+p] = recs[i].start
		}
	}
	for ri, r := range recs {
		kinds[r.kind]++
		if r.peers == nil || slices.Equal(r.want, []string{""}) {
			// A call refused by auth has no job: the gRPC codes
			// below count it.
			continue
		}
		var got []int
		for _, p := range r.peers {
			for _, i := range byPeer[r.adapter+" "+p] {
				if l := lines[i]; !used[i] && !l.began.Before(r.start) && l.began.Before(bounds[ri]) {
					got = append(got, i)
					break
				}
			}
		}
		switch {
		case len(got) > 1:
			bad(r.kind+": several lines", fmt.Sprintf("%s %v: %d lines", r.kind, r.peers, len(got)))
		case len(got) == 0 && slices.Contains(r.want, "") && r.adapter == "grpc" && r.code != codes.Unauthenticated.String() && r.code != codes.PermissionDenied.String():
			neverCame[r.code]++
		case len(got) == 0 && !slices.Contains(r.want, ""):
			bad(r.kind+": no line, want "+strings.Join(r.want, "/"), fmt.Sprintf("%s %v code %s: no line (%s)", r.kind, r.peers, r.code, r.note))
		case len(got) == 1:
			l := lines[got[0]]
			used[got[0]] = true
			if r.kind == "go-deadline" && l.outcome == "canceled" {
				lateDeadline++
			}
			if !slices.Contains(r.want, l.outcome) {
				bad(fmt.Sprintf("%s: client %s, server %s", r.kind, r.code, l.outcome), fmt.Sprintf("%s %v client %s (%s) want %v: %s", r.kind, r.peers, r.code, r.note, r.want, l.raw))
			} else if l.outcome == "ok" && (l.in != r.sent || l.out != r.recv) {
				bad(r.kind+": ok bytes", fmt.Sprintf("%s: sent %d received %d: %s", r.kind, r.sent, r.recv, l.raw))
			}
		}
	}
	// The other processes' calls, in aggregate.
	left := map[string]int{}
	unmatched := 0
	var leftIn int64
	for i, l := range lines {
		if !used[i] && strings.HasPrefix(l.peer, "127.0.0.2:") {
			// A line of a call made here that no call took: a reset's
			// job that began after the next call from its address
			// (the port is free again at once after a reset) is the
			// only one known.
			unmatched++
			if unmatched <= 3 {
				t.Logf("a line no call made here took: %s", l.raw)
			}
			continue
		}
		if !used[i] {
			left[l.adapter+" "+l.outcome]++
			if l.outcome == "ok" {
				leftIn += l.in
			}
		}
	}
	var sentIn int64
	ambiguous := map[string]int{}
	for _, r := range recs {
		if r.peers != nil {
			continue
		}
		if len(r.want) == 1 {
			left[r.adapter+" "+r.want[0]]--
			if r.want[0] == "ok" {
				sentIn += r.sent
			}
			continue
		}
		ambiguous[r.adapter+" "+strings.Join(r.want, "/")]++
	}
	for k, v := range left {
		a := strings.Fields(k)
		o := ""
		if len(a) > 1 {
			o = a[1]
		}
		if v < 0 && o != "" || v > 0 {
			// Only the ambiguous calls may explain a surplus.
			room := 0
			for ak, n := range ambiguous {
				if strings.HasPrefix(ak, a[0]+" ") && slices.Contains(strings.Split(strings.Fields(ak)[1], "/"), o) {
					room += n
				}
			}
			if v < 0 || v > room {
				errs := map[string]int{}
				for i, l := range lines {
					if !used[i] && l.adapter+" "+l.outcome == k {
						errs[l.err]++
					}
				}
				bad("processes: "+k, fmt.Sprintf("%s: %+d lines against the clients' count (ambiguous room %d); the lines' errors: %v", k, v, room, errs))
			}
		}
	}
	if leftIn != sentIn {
		bad("processes: ok in_bytes", fmt.Sprintf("ok in_bytes %d, the processes sent %d", leftIn, sentIn))
	}
	// gRPC calls refused by auth: no job, a call line each.
	authWant := 0
	for _, r := range recs {
		if r.code == codes.PermissionDenied.String() || r.code == codes.Unauthenticated.String() {
			if r.adapter == "grpc" {
				authWant++
			}
		}
	}
	if authCalls["PermissionDenied"]+authCalls["Unauthenticated"] != authWant {
		bad("auth refusals", fmt.Sprintf("auth refusals: log %v, clients %d", authCalls, authWant))
	}

	// The other counters: every job's duration observed; --max-jobs's
	// refusals counted by adapter, once in halfclose_refused_total and
	// once in the wait histogram, as the log names them; every gRPC call
	// handled with the code its client saw (a killed client's is not
	// known: it may be any of Canceled and ResourceExhausted); every
	// TCP connection counted.
	sum := func(prefix string, with ...string) float64 {
		v := 0.0
		for k, x := range m {
			if strings.HasPrefix(k, prefix) && !slices.ContainsFunc(with, func(w string) bool { return !strings.Contains(k, w) }) {
				v += x
			}
		}
		return v
	}
	if d, j := sum("halfclose_job_duration_seconds_count"), sum("halfclose_jobs_total{"); d != j {
		bad("duration histogram", fmt.Sprintf("halfclose_job_duration_seconds_count %v, halfclose_jobs_total %v", d, j))
	}
	for _, a := range []string{"grpc", "tcp"} {
		n := 0
		for _, l := range lines {
			if l.adapter == a && strings.HasPrefix(l.err, "too many jobs") {
				n++
			}
		}
		r := sum("halfclose_refused_total{", `adapter="`+a+`"`, `reason="max_jobs"`)
		w := sum("halfclose_job_wait_seconds_count{", `adapter="`+a+`"`, `admitted="false"`)
		// A gRPC job whose client gave up while it waited (a cancel, a
		// deadline) was not admitted either: admitted="false" counts it.
		// A raw-TCP job waits on the server's context, whatever its
		// client does (a reset is met once admitted): only its refusals
		// (90 s run: 43 and 43; gRPC 109 for 104 refusals).
		gaveUp := 0
		for _, l := range lines {
			if a == "grpc" && l.adapter == a && (l.outcome == "canceled" || l.outcome == "idle") {
				gaveUp++
			}
		}
		if r != float64(n) || w < float64(n) || w > float64(n+gaveUp) {
			bad("max_jobs refusals "+a, fmt.Sprintf("%s: %d lines refused at --max-jobs, halfclose_refused_total %v, halfclose_job_wait_seconds_count{admitted=false} %v", a, n, r, w))
		}
	}
	clientCodes := map[string]int{}
	kills, tcpConns, tcpKills := 0, 0, 0
	for _, r := range recs {
		switch {
		case r.kind == "cli-kill":
			kills++
		case r.kind == "nc-size-kill":
			tcpKills++
		case r.adapter == "grpc":
			clientCodes[r.code]++
		case r.adapter == "tcp":
			tcpConns++
		}
	}
	for _, meth := range []string{"Digest", "Run"} {
		st, h := sum("grpc_server_started_total{", `grpc_method="`+meth+`"`), sum("grpc_server_handled_total{", `grpc_method="`+meth+`"`)
		if st != h {
			bad("grpc started/handled", fmt.Sprintf("%s: started %v, handled %v", meth, st, h))
		}
	}
	serverCodes := map[string]float64{}
	codeRe := regexp.MustCompile(`grpc_code="([A-Za-z]+)"`)
	for k, v := range m {
		if strings.HasPrefix(k, "grpc_server_handled_total{") && (strings.Contains(k, `grpc_method="Run"`) || strings.Contains(k, `grpc_method="Digest"`)) && v > 0 {
			serverCodes[codeRe.FindStringSubmatch(k)[1]] += v
		}
	}
	neverCame[codes.DeadlineExceeded.String()] += lateDeadline
	clientCodes[codes.Canceled.String()] += lateDeadline
	for _, e := range soakCodeMismatches(serverCodes, clientCodes, neverCame, kills) {
		bad(e[0], e[1])
	}
	for c, n := range clientCodes {
		if _, ok := serverCodes[c]; !ok && n > 0 {
			bad("grpc code "+c, fmt.Sprintf("clients saw %s %d times, the server never", c, n))
		}
	}
	if got := m["halfclose_tcp_connections_total"]; got < float64(tcpConns) || got > float64(tcpConns+tcpKills) {
		bad("tcp connections", fmt.Sprintf("halfclose_tcp_connections_total %v, clients made %d (and %d killed)", got, tcpConns, tcpKills))
	}

	t.Logf("calls by kind (%d): %v", len(recs), kinds)
	t.Logf("deadlines the server counted as cancels: %d of %d; lines of calls made here that none took: %d", lateDeadline, kinds["go-deadline"], unmatched)
	t.Logf("gRPC codes: clients %v, server %v", clientCodes, serverCodes)
	t.Logf("job lines by adapter and outcome: %v", soakCount(lines))
	for _, w := range wrong {
		t.Errorf("client: %s", w)
	}
	for k, n := range mismatch {
		t.Errorf("mismatch %s: %d", k, n)
	}
	for _, e := range examples {
		t.Logf("  e.g. %s", e)
	}
}

// soakCodeMismatches holds grpc_server_handled_total's codes (server) to
// the codes the clients saw (clients): a code may fall short by the calls
// of it that may never have reached the server (neverCame), and a killed
// client's call, whose code no client saw, may have ended as a cancel, a
// refusal at --max-jobs or an idle timeout (a CLI starved of CPU between
// its header and its input), so those three may exceed the clients' by
// the kills, all of them together. It returns (key, message) pairs.
func soakCodeMismatches(server map[string]float64, clients, neverCame map[string]int, kills int) [][2]string {
	var out [][2]string
	killed := map[string]bool{"Canceled": true, "ResourceExhausted": true, "DeadlineExceeded": true}
	extra := 0.0
	for c := range soakUnion(server, map[string]float64{"OK": 0}) {
		got, want := server[c], float64(clients[c])
		low, high := want-float64(neverCame[c]), want
		if killed[c] {
			high += float64(kills)
			extra += max(0, got-want)
		}
		if got < low || got > high {
			out = append(out, [2]string{"grpc code " + c, fmt.Sprintf("grpc_server_handled_total{grpc_code=%s} %v, clients saw %v (%d of them may not have reached it, and %d killed)", c, got, want, neverCame[c], kills)})
		}
	}
	if extra > float64(kills) {
		out = append(out, [2]string{"grpc codes of the killed", fmt.Sprintf("grpc_server_handled_total: %v calls more than the clients saw, %d killed", extra, kills)})
	}
	return out
}

func soakUnion(a, b map[string]float64) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func soakCount(lines []soakLine) map[string]int {
	c := map[string]int{}
	for _, l := range lines {
		c[l.adapter+" "+l.outcome]++
	}
	return c
}

// soakLines parses the daemon's job lines, and counts the gRPC calls
// that had no job, by code.
func soakLines(d *daemon) ([]soakLine, map[string]int) {
	var out []soakLine
	auth := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(d.log.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Time    time.Time `json:"time"`
			Msg     string    `json:"msg"`
			Adapter string    `json:"adapter"`
			Peer    string    `json:"peer"`
			PeerA   string    `json:"peer.address"`
			Method  string    `json:"grpc.method"`
			Code    string    `json:"grpc.code"`
			CallDur int64     `json:"grpc.duration"`
			Job     *struct {
				Command string `json:"command"`
				In      int64  `json:"in_bytes"`
				Out     int64  `json:"out_bytes"`
				Outcome string `json:"outcome"`
				Error   string `json:"error"`
				Dur     int64  `json:"duration"`
			} `json:"job"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch {
		case r.Msg == "job" && r.Job != nil:
			out = append(out, soakLine{at: r.Time, began: r.Time.Add(-time.Duration(r.Job.Dur)), adapter: "tcp", peer: r.Peer, outcome: r.Job.Outcome, err: r.Job.Error, command: soakCommand(r.Job.Command), in: r.Job.In, out: r.Job.Out, raw: sc.Text()})
		case r.Msg == "finished call" && r.Job != nil:
			out = append(out, soakLine{at: r.Time, began: r.Time.Add(-time.Duration(r.CallDur)), adapter: "grpc", peer: r.PeerA, outcome: r.Job.Outcome, err: r.Job.Error, command: soakCommand(r.Job.Command), code: r.Code, in: r.Job.In, out: r.Job.Out, raw: sc.Text()})
		case r.Msg == "finished call" && (r.Method == "Run" || r.Method == "Digest"):
			auth[r.Code]++
		}
	}
	return out, auth
}

// soakCommand is the metrics' command label of a log line's command.
func soakCommand(c string) string {
	switch {
	case c == "":
		return "other"
	case strings.Contains(c, "|"):
		return "pipeline"
	}
	return c
}

// soakSample is the server's resources at one moment.
type soakSample struct {
	label                    string
	at                       time.Time
	rss, heap                int64
	goroutines, threads, fds int
	spill                    int
	own                      int // goroutines less the pools'
	fdNames                  []string
}

func (s soakSample) String() string {
	return fmt.Sprintf("%-16s rss %6.1f MiB heap %6.1f MiB goroutines %4d (%d not in pools) threads %3d fds %4d spill files %d",
		s.label, float64(s.rss)/(1<<20), float64(s.heap)/(1<<20), s.goroutines, s.own, s.threads, s.fds, s.spill)
}

// soakTake samples the server: RSS and threads from /proc, the heap in
// use after a GC (pprof's heap profile with gc=1, then the metric),
// goroutines from the metrics, descriptors from /proc/PID/fd.
func soakTake(t *testing.T, pid int, maddr, spool, label string) soakSample {
	t.Helper()
	sm := soakSample{label: label, at: time.Now()}
	// Two GCs: the first moves the sync.Pools' buffers (the raw-TCP
	// connections' 256 KiB readers, gRPC's) to their victim caches, where
	// they are still in use; the second frees them. After one GC a server
	// at rest read 16.9 MiB, after the second 2.5 MiB, and stayed there.
	for range 2 {
		if resp, err := metricsClient.Get("http://" + maddr + "/debug/pprof/heap?gc=1"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if resp, err := metricsClient.Get("http://" + maddr + "/debug/pprof/goroutine?debug=1"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var err error
		if sm.own, err = soakOwnGoroutines(string(b)); err != nil {
			t.Error(err)
		}
	}
	m := soakMetrics(t, maddr)
	sm.heap = int64(m["go_memstats_heap_alloc_bytes"])
	sm.goroutines = int(m["go_goroutines"])
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(st), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			sm.rss = kb << 10
		case "Threads:":
			sm.threads, _ = strconv.Atoi(f[1])
		}
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	sm.fds = len(fds)
	for _, e := range fds {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		sm.fdNames = append(sm.fdNames, l)
	}
	ents, _ := os.ReadDir(spool)
	sm.spill = len(ents)
	return sm
}

// The heap at rest may grow by soakHeapSlack, and soakHeapPerCall bytes
// a call, from the first phase's end to the last's.
const (
	soakHeapSlack   = 2 << 20
	soakHeapPerCall = 512
)

// soakPools are the stacks of goroutines a load may leave waiting for
// work (gRPC's server workers, the raw-TCP connection workers, the
// receive-ahead workers parked between streams: aheadworkers.go), and
// those of the request that lists them. A receive-ahead loop that does
// not end runs on a worker too, but not in its park: it counts.
var soakPools = []string{"grpc.(*Server).serverWorker", "server.(*TCPServer).serveConns", leakcheck.ParkedAheadWorker + "+", "net/http.(*conn).serve", "net/http.(*connReader).backgroundRead"}

// soakOwnGoroutines counts the goroutines of a goroutine profile
// (debug=1) outside soakPools. The profile's first line is its total, and
// the first block (the largest: a leak of many goroutines at one place)
// follows it with no blank line: the blocks' counts must add up to the
// total, or the profile was not read whole.
func soakOwnGoroutines(profile string) (int, error) {
	head, body, _ := strings.Cut(profile, "\n")
	var total int
	if _, err := fmt.Sscanf(head, "goroutine profile: total %d", &total); err != nil {
		return 0, fmt.Errorf("goroutine profile: first line %q: %v", head, err)
	}
	n, sum := 0, 0
	for _, block := range strings.Split(body, "\n\n") {
		var count int
		if _, err := fmt.Sscanf(block, "%d @", &count); err != nil {
			continue
		}
		sum += count
		if !strings.Contains(block, "\n#") {
			// No frame but runtime.goexit's, which pprof leaves out:
			// nothing a leak could be told by. One such came and went
			// at rest (10 goroutines at start, 11 for 10 s at rest).
			continue
		}
		if !slices.ContainsFunc(soakPools, func(p string) bool { return strings.Contains(block, p) }) {
			n += count
		}
	}
	if sum != total {
		return 0, fmt.Errorf("goroutine profile: blocks of %d goroutines, total %d", sum, total)
	}
	return n, nil
}

// TestSoakCodeMismatches: the soak's code check lets a killed client's
// call end as any of the codes a kill can make, no more of them than
// there were kills, and nothing else.
func TestSoakCodeMismatches(t *testing.T) {
	for _, tc := range []struct {
		name      string
		server    map[string]float64
		clients   map[string]int
		neverCame map[string]int
		kills     int
		want      int
	}{
		{"equal", map[string]float64{"OK": 5, "Canceled": 2}, map[string]int{"OK": 5, "Canceled": 2}, nil, 0, 0},
		{"a kill canceled", map[string]float64{"OK": 5, "Canceled": 3}, map[string]int{"OK": 5, "Canceled": 2}, nil, 1, 0},
		// Load 20: a killed CLI idled out before its first chunk.
		{"a kill idled out", map[string]float64{"OK": 5, "DeadlineExceeded": 3}, map[string]int{"OK": 5, "DeadlineExceeded": 2}, nil, 1, 0},
		{"two kills, one reached", map[string]float64{"ResourceExhausted": 1}, map[string]int{}, nil, 2, 0},
		{"more than the kills", map[string]float64{"Canceled": 3, "DeadlineExceeded": 3}, map[string]int{"Canceled": 2, "DeadlineExceeded": 2}, nil, 1, 1},
		{"a deadline that never came", map[string]float64{"DeadlineExceeded": 2}, map[string]int{"DeadlineExceeded": 3}, map[string]int{"DeadlineExceeded": 1}, 0, 0},
		{"one short", map[string]float64{"DeadlineExceeded": 2}, map[string]int{"DeadlineExceeded": 3}, nil, 0, 1},
		{"an OK no client saw", map[string]float64{"OK": 6}, map[string]int{"OK": 5}, nil, 3, 1},
		{"a kill's Internal", map[string]float64{"Internal": 1}, map[string]int{}, nil, 3, 1},
	} {
		if got := soakCodeMismatches(tc.server, tc.clients, tc.neverCame, tc.kills); len(got) != tc.want {
			t.Errorf("%s: %d mismatches %v, want %d", tc.name, len(got), got, tc.want)
		}
	}
}

// TestSoakOwnGoroutines: every block of a goroutine profile counts,
// the first (the largest, right after the total) too.
func TestSoakOwnGoroutines(t *testing.T) {
	profile := `goroutine profile: total 81
64 @ 0x48fece 0x41e7ae 0x41e2d2 0xadb71c 0x497881
#	0xadb71b	github.com/halfclose/halfclose/server.leak.func1+0x1b	/x/server/leak.go:34

6 @ 0x48fece 0x41e7ae 0x41e2f2 0x9bbf3a 0x497881
#	0x9bbf39	google.golang.org/grpc.(*Server).serverWorker+0x59	/x/grpc/server.go:689

4 @ 0x48fece 0x451397 0x48f0a5 0x500c67 0x497881
#	0x8e00af	net/http.(*conn).serve+0x68f		/usr/local/go/src/net/http/server.go:2067

1 @ 0x424d09 0x492198 0xae5a93 0x497881
#	0x492197	os/signal.signal_recv+0x97	/usr/local/go/src/runtime/sigqueue.go:152

3 @ 0x49024e 0x41e7ae 0x41e2d2 0xb63dea 0xb63dd3 0x497f01
#	0xb63de9	github.com/halfclose/halfclose/server.(*aheadWorkers).park+0x69	/x/server/aheadworkers.go:53
#	0xb63dd2	github.com/halfclose/halfclose/server.(*aheadWorkers).work+0x52	/x/server/aheadworkers.go:42

2 @ 0x49024e 0x41e7ae 0x41e2d2 0xc60c59 0xb8b452 0xb896f7 0xb89216 0xb63dad 0x497f01
#	0xb8b451	github.com/halfclose/halfclose/server.messageSource.next+0x11		/x/server/recvahead.go:473
#	0xb896f6	github.com/halfclose/halfclose/server.(*recvAhead).next+0x76		/x/server/recvahead.go:185
#	0xb89215	github.com/halfclose/halfclose/server.(*recvAhead).loop+0x235		/x/server/recvahead.go:155
#	0xb63dac	github.com/halfclose/halfclose/server.(*aheadWorkers).work+0x2c		/x/server/aheadworkers.go:41

1 @ 0x497881

`
	if n, err := soakOwnGoroutines(profile); n != 67 || err != nil {
		t.Errorf("soakOwnGoroutines = %d, %v; want 67 (64 leaked, 1 signal loop, 2 receive-ahead loops that do not end; not the one with no frame, nor the 3 parked receive-ahead workers)", n, err)
	}
	cut := profile[:strings.Index(profile, "4 @")]
	if _, err := soakOwnGoroutines(cut); err == nil {
		t.Errorf("a profile of 70 goroutines of 81 read as whole")
	}
}
