//go:build fleet && linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rollCodeRe finds the status code name in a client's error.
var rollCodeRe = regexp.MustCompile(`\b(OK|CANCELLED|CANCELED|UNKNOWN|INVALID_ARGUMENT|DEADLINE_EXCEEDED|NOT_FOUND|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|ABORTED|OUT_OF_RANGE|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS|Unavailable|Internal|Unknown|Canceled|incomplete reply)\b`)

// rollCalls: every client kind, over inputs of 0 B, 1 B, 64 KiB and
// 10 MiB, with a digest and a counting command, plus a trickled upload.
func (f *fleet) rollCalls(t *testing.T, p *proxy) []huntCall {
	host, port, _ := net.SplitHostPort(p.tcp)
	py := exampleClient(t, "python")
	node := exampleClient(t, "node")
	hc := bin(t, "halfclose")
	gurl := bin(t, "grpcurl")
	dir := t.TempDir()
	var calls []huntCall
	for _, size := range []int{0, 1, 64 << 10, 10 << 20} {
		in := randomFile(t, size)
		// Text for the counting commands: lines of base64.
		text := writeFile(t, dir, fmt.Sprintf("text-%d", size), gnu(t, in, "base64"))
		sha := run(t, "", "", "sha256sum", in).stdout
		shaStdin := gnu(t, in, "sha256sum")
		wc := gnu(t, text, "wc")
		// The CLI's --tcp reads a regular file as wc does (columns as
		// wide as the file's size): GNU wc with the file as stdin.
		wcFile := run(t, "", text, "wc").stdout
		// grep exits 1 when nothing matches (the empty input): its
		// count is still the output.
		g := runPiped(t, "", text, "grep", "-c", "A")
		grepc := checkExit(g.stdout, g.code)
		tag := sizeName(size)
		add := func(kind string, argv []string, stdin string, check func(int, []byte, []byte) (string, string)) {
			calls = append(calls, huntCall{kind: kind + " " + tag, argv: argv, stdin: stdin, check: check})
		}
		add("python digest", append(slices.Clone(py), "--addr", p.grpc, "digest", in), "", checkExact(sha))
		add("node digest", append(slices.Clone(node), "--addr", p.grpc, "digest", in), "", checkExact(sha))
		add("python run wc", append(slices.Clone(py), "--addr", p.grpc, "run", "wc"), text, checkExact(wc))
		add("node run grep -c", append(slices.Clone(node), "--addr", p.grpc, "run", "grep -c A"), text, grepc)
		add("cli sha256sum", []string{hc, "--addr", p.grpc, "sha256sum", in}, "", checkExact(sha))
		add("cli grep -c", []string{hc, "--addr", p.grpc, "grep", "-c", "A"}, text, grepc)
		add("cli --tcp wc", []string{hc, "--tcp", "--tcp-addr", p.tcp, "wc"}, text, checkExact(wcFile))
		if size <= 64<<10 {
			add("grpcurl digest bare", []string{gurl, "-plaintext", "-d", "@", p.grpc, "halfclose.v1.ComputeService/Digest"},
				writeGrpcurlRequest(t, dir, size, in), checkGrpcurlDigest(strings.Fields(string(sha))[0], size))
		}
		add("nc @size @trailer sha256sum", []string{"nc", "-N", host, port},
			writeHuntRequest(t, dir, fmt.Sprintf("size-%d", size), fmt.Sprintf("@size=%d @trailer sha256sum\n", size), in), checkTrailer(shaStdin, size))
		st, _ := os.Stat(text)
		add("socat @trailer wc", []string{"socat", "-t", "60", "-", "TCP:" + p.tcp},
			writeHuntRequest(t, dir, fmt.Sprintf("trailer-wc-%d", size), "@trailer wc\n", text), checkTrailer(wc, int(st.Size())))
		add("nc bare sha256sum", []string{"nc", "-N", host, port},
			writeHuntRequest(t, dir, fmt.Sprintf("bare-%d", size), "sha256sum\n", in), checkBare(shaStdin))
	}
	// Trickled: 80 KiB in 4 KiB pieces every 50 ms, through a pipe.
	slow := randomFile(t, 80<<10)
	want := gnu(t, slow, "sha256sum")
	trickle := fmt.Sprintf(`i=0; while [ $i -lt 20 ]; do dd if=%s bs=4096 skip=$i count=1 status=none; sleep 0.05; i=$((i+1)); done | "$@"`, slow)
	for _, c := range []struct {
		kind string
		argv []string
	}{
		{"python run sha256sum", append(slices.Clone(py), "--addr", p.grpc, "run", "sha256sum")},
		{"node run sha256sum", append(slices.Clone(node), "--addr", p.grpc, "run", "sha256sum")},
		{"cli sha256sum", []string{hc, "--addr", p.grpc, "sha256sum"}},
		{"cli --tcp sha256sum", []string{hc, "--tcp", "--tcp-addr", p.tcp, "sha256sum"}},
	} {
		calls = append(calls, huntCall{kind: c.kind + " trickle", argv: append([]string{"sh", "-c", trickle, "sh"}, c.argv...), check: checkExact(want)})
	}
	return calls
}

// checkExit: the client must exit with code (GNU grep's 1 when nothing
// matched: its count is still a result) and print want; any other exit is
// an error.
func checkExit(want []byte, code int) func(int, []byte, []byte) (string, string) {
	exact := checkExact(want)
	return func(c int, out, errb []byte) (string, string) {
		if c == code && code != 0 {
			c = 0
		}
		return exact(c, out, errb)
	}
}

// rollLoopPy is a grpcio client that keeps one channel (one connection to
// the proxy) across the roll's reloads and restarts and makes Digest calls
// back to back, each proving its end with expected_size, over 0 B, 1 B,
// 64 KiB and 1 MiB; it prints one line a call (ok, WRONG, err CODE ...)
// until the file named by its last argument exists. A process a call (the
// other clients) opens a new connection each time, which a reload never
// finds in use.
const rollLoopPy = `import sys, hashlib, os
sys.path.insert(0, sys.argv[1])
import grpc
from halfclose.v1 import compute_pb2 as pb, compute_pb2_grpc as pbg
addr, stop = sys.argv[2], sys.argv[3]
sizes = [0, 1, 64 << 10, 1 << 20]
datas = {n: os.urandom(n) for n in sizes}
stub = pbg.ComputeServiceStub(grpc.insecure_channel(addr))
i = 0
while not os.path.exists(stop):
    n = sizes[i % len(sizes)]; i += 1
    d = datas[n]
    def reqs():
        yield pb.DigestRequest(header=pb.DigestHeader(algorithms=[pb.ALGORITHM_SHA256], expected_size=n))
        for k in range(0, n, 256 << 10):
            yield pb.DigestRequest(data=d[k:k + (256 << 10)])
    try:
        r = stub.Digest(reqs(), timeout=30)
        ok = r.digests[0].hex == hashlib.sha256(d).hexdigest()
        print("ok" if ok else "WRONG size %d" % n, flush=True)
    except grpc.RpcError as e:
        print("err %s %s (size %d)" % (e.code().name, e.details(), n), flush=True)
`

// rollLoopJS is rollLoopPy with grpc-js.
const rollLoopJS = `const path = require('node:path');
const crypto = require('node:crypto');
const [examples, addr, stop] = process.argv.slice(2);
const fs = require('node:fs');
const grpc = require(path.join(examples, 'node', 'node_modules', '@grpc/grpc-js'));
const protoLoader = require(path.join(examples, 'node', 'node_modules', '@grpc/proto-loader'));
const def = protoLoader.loadSync(path.join(examples, '..', 'proto', 'halfclose', 'v1', 'compute.proto'),
  { keepCase: true, longs: String, enums: String, oneofs: true, defaults: true });
const { ComputeService } = grpc.loadPackageDefinition(def).halfclose.v1;
const client = new ComputeService(addr, grpc.credentials.createInsecure());
const sizes = [0, 1, 64 << 10, 1 << 20];
const datas = sizes.map((n) => crypto.randomBytes(n));
const names = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
function one(i) {
  return new Promise((resolve) => {
    const n = sizes[i % sizes.length], d = datas[i % sizes.length];
    const call = client.Digest({ deadline: Date.now() + 30000 }, (err, r) => {
      if (err) console.log(` + "`" + `err ${names[err.code]} ${err.details} (size ${n})` + "`" + `);
      else console.log(r.digests[0].hex === crypto.createHash('sha256').update(d).digest('hex') ? 'ok' : ` + "`" + `WRONG size ${n}` + "`" + `);
      resolve();
    });
    call.write({ header: { algorithms: ['ALGORITHM_SHA256'], expected_size: String(n) } });
    for (let k = 0; k < n; k += 256 << 10) call.write({ data: d.subarray(k, k + (256 << 10)) });
    call.end();
  });
}
(async () => { for (let i = 0; !fs.existsSync(stop); i++) await one(i); client.close(); })();
`

// TestFleetRoll: a rolling restart (SIGTERM, the drain, a new process on
// the same ports, then the next replica) under clients of every kind,
// through nginx and HAProxy at once: process-a-call clients (the Python and
// Node examples, grpcurl, the CLI over gRPC and --tcp, nc -N and socat,
// bare and with @size/@trailer) over 0 B, 1 B, 64 KiB, 10 MiB and a
// trickled upload, sha256sum, wc and grep -c against GNU; and a grpcio and
// a grpc-js client that keep one connection across the roll
// (rollLoopPy, rollLoopJS). /readyz must say 503 during each drain.
// A client that exits 0 must print GNU's output over its whole input; one
// that fails is retried with backoff, and a retry must get GNU's output
// once the proxy routes around the replica that went away. A drain alone
// fails no call. Knobs: ROLL_ROUNDS (rolling restarts, default 1),
// ROLL_WORKERS (process-a-call clients at once, default 6), ROLL_ACTIONS
// (what each replica meets in turn: term, the default; hurry, a second
// SIGTERM as the drain begins; kill; reload, both proxies), FLEET_PROXIES,
// ROLL_PROXY_LOGS=1 (the proxies' last errors and warnings, logged).
func TestFleetRoll(t *testing.T) {
	for _, tool := range []string{"nginx", "haproxy", "nc", "envsubst", "socat"} {
		need(t, tool)
	}
	rounds := envInt(t, "ROLL_ROUNDS", 1, 1)
	workers := envInt(t, "ROLL_WORKERS", 6, 1)
	actions := []string{"term"}
	if v := os.Getenv("ROLL_ACTIONS"); v != "" {
		actions = strings.Split(v, ",")
		for _, a := range actions {
			if !slices.Contains([]string{"term", "hurry", "kill", "reload"}, a) {
				t.Fatalf("ROLL_ACTIONS: unknown %q (term, hurry, kill, reload)", a)
			}
		}
	}
	f := newFleet(t)
	// Both proxies in front of the same replicas at once: one roll meets
	// the clients of each.
	var proxies []*proxy
	var calls []huntCall
	for _, name := range readFleetKnobs(t).proxies {
		p := f.startProxy(t, name, nil)
		proxies = append(proxies, p)
		for _, c := range f.rollCalls(t, p) {
			c.kind = name + ": " + c.kind
			calls = append(calls, c)
		}
	}
	// The control: each client on the 1-byte input, with no disruption,
	// must succeed, or a client that cannot run at all would only add
	// errors to a test that fails on wrong results.
	for _, c := range calls {
		if !strings.HasSuffix(c.kind, " 1") {
			continue
		}
		r, err := runQuiet(c.stdin, c.argv...)
		if err != nil {
			t.Errorf("control: %s: %v", c.kind, err)
		} else if class, msg := c.check(r.code, r.stdout, r.stderr); class != huntOK {
			t.Errorf("control: %s: %s %s", c.kind, class, msg)
		}
	}
	var stats, retries huntStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopFile := filepath.Join(t.TempDir(), "stop")
	var loops []*exec.Cmd
	for _, p := range proxies {
		loops = append(loops, f.startRollLoops(t, p, stopFile, &stats, &wg)...)
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := calls[rng.IntN(len(calls))]
				class, _ := rollOne(c, &stats)
				if class != huntErr {
					continue
				}
				// The retry after an error, as a client's policy does it
				// (backoff from 100 ms to 2 s): the job has no side
				// effect, and the replicas left serve once the proxy has
				// seen the one that went away (HAProxy's checks, nginx's
				// fail_timeout). Until then an attempt may fail again,
				// never be wrong.
				backoff := 100 * time.Millisecond
				for end := time.Now().Add(defaultTestTimeout); class == huntErr && time.Now().Before(end); backoff = min(2*backoff, 2*time.Second) {
					time.Sleep(backoff)
					class, _ = rollOne(c, &retries)
				}
				if class == huntErr {
					retries.add(c.kind, rollGaveUp, "")
				}
			}
		}()
	}
	for round := range rounds {
		for _, r := range f.replicas {
			for _, a := range actions {
				switch a {
				case "term":
					f.rollOnce(t, r, round)
				case "hurry":
					r.stop(t, true)
					r.start(t)
				case "kill":
					r.kill(t)
					r.start(t)
				case "reload":
					for _, p := range proxies {
						p.reload(t)
					}
					// Pacing, not synchronisation: calls begin on the
					// new workers between reloads.
					time.Sleep(500 * time.Millisecond)
				}
			}
		}
	}
	close(stop)
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, l := range loops {
		if err := l.Wait(); err != nil {
			t.Errorf("%s: %v", l.Args[1], err)
		}
	}
	// A drain alone (SIGTERM, --drain-delay) fails no call: the replica
	// finishes every stream and connection it accepted, HAProxy's checks
	// and the closed listener send new ones elsewhere (docs/deploy.md,
	// "Rolling restarts"). Kills, hurried stops and reloads may fail
	// calls, visibly.
	drainOnly := !slices.ContainsFunc(actions, func(a string) bool { return a != "term" })
	rollReport(t, "calls", &stats, drainOnly)
	rollReport(t, "retries", &retries, drainOnly)
	if t.Failed() || os.Getenv("ROLL_PROXY_LOGS") != "" {
		for _, p := range proxies {
			t.Logf("%s's last errors and warnings:\n%s", p.name, p.log.complaints())
		}
	}
	for _, kind := range []string{"python loop", "node loop"} {
		for _, p := range proxies {
			if n := stats.counts[p.name+": "+kind+"|"+huntOK]; n == 0 {
				t.Errorf("%s through %s: no call succeeded", kind, p.name)
			}
		}
	}
}

// rollGaveUp is the class of a call whose retries all failed.
const rollGaveUp = "gave up"

// startRollLoops runs rollLoopPy and rollLoopJS through p until stopFile
// exists, counting each call's line in stats.
func (f *fleet) startRollLoops(t *testing.T, p *proxy, stopFile string, stats *huntStats, wg *sync.WaitGroup) []*exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	ex := examplesDir(t)
	py := exampleClient(t, "python")[0]
	node := exampleClient(t, "node")[0]
	var cmds []*exec.Cmd
	for _, l := range []struct{ kind, prog, script, lib string }{
		{p.name + ": python loop", py, rollLoopPy, filepath.Join(ex, "python")},
		{p.name + ": node loop", node, rollLoopJS, ex},
	} {
		cmd := exec.Command(l.prog, writeFile(t, dir, strings.ReplaceAll(strings.ReplaceAll(l.kind, ":", ""), " ", "-"), []byte(l.script)), l.lib, p.grpc, stopFile)
		cmd.Env = cleanEnv()
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		// The roll begins once the loop has made a call, whatever the
		// machine's pace at starting Python or Node.
		first := make(chan struct{})
		var once sync.Once
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer once.Do(func() { close(first) })
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				once.Do(func() { close(first) })
				switch {
				case line == "ok":
					stats.add(l.kind, huntOK, "")
				case strings.HasPrefix(line, "err "):
					stats.add(l.kind, huntErr, strings.TrimPrefix(line, "err "))
				default:
					stats.add(l.kind, huntWrong, line)
				}
			}
		}()
		<-first
	}
	return cmds
}

// rollOne runs one call, counts its class, and returns it.
func rollOne(c huntCall, s *huntStats) (string, string) {
	began := time.Now()
	r, err := runQuiet(c.stdin, c.argv...)
	s.took(c.kind, time.Since(began))
	if errors.Is(err, errTimedOut) {
		s.stall(c.kind)
	}
	if err != nil {
		s.add(c.kind, huntErr, err.Error())
		return huntErr, err.Error()
	}
	class, msg := c.check(r.code, r.stdout, r.stderr)
	s.add(c.kind, class, msg)
	return class, msg
}

// rollOnce stops r with SIGTERM, checks /readyz during its drain, and
// starts it again on the same ports.
func (f *fleet) rollOnce(t *testing.T, r *replica, round int) {
	t.Helper()
	log := r.currentLog()
	done := make(chan time.Duration)
	go func() { done <- r.stop(t, false) }()
	if err := waitLogText(log, `"msg":"shutting down"`); err != nil {
		t.Errorf("%s round %d: %v", r.name, round, err)
	} else if code := readyzCode(r.health); code != http.StatusServiceUnavailable {
		t.Errorf("%s round %d: /readyz during the drain: %d, want 503", r.name, round, code)
	}
	took := <-done
	t.Logf("%s round %d: exited %v after SIGTERM", r.name, round, took.Round(time.Millisecond))
	r.start(t)
}

func waitLogText(l *eventLog, s string) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	return l.waitText(ctx, s)
}

// readyzCode is the status of GET /readyz on addr, or 0 when it fails.
func readyzCode(addr string) int {
	c := http.Client{Timeout: defaultTestTimeout}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rollReport logs what the calls (or their retries) ended in, by client
// and status code, and fails on a wrong result, a stalled call, a call
// whose retries all failed, and, when noErrors, on any failed call.
func rollReport(t *testing.T, what string, s *huntStats, noErrors bool) {
	t.Helper()
	total, byClass := 0, map[string]int{}
	for k, n := range s.counts {
		total += n
		byClass[k[strings.LastIndex(k, "|")+1:]] += n
	}
	codes := map[string]int{}
	for _, k := range slices.Sorted(maps.Keys(s.msgs)) {
		n := s.msgs[k]
		parts := strings.SplitN(k, "|", 3)
		t.Logf("  %s %d× %s", what, n, k)
		if parts[1] == huntErr {
			proxy, client, _ := strings.Cut(parts[0], ": ")
			code := rollCodeRe.FindString(parts[2])
			codes[proxy+" "+strings.Fields(client)[0]+" "+code] += n
		}
	}
	t.Logf("%s: %d, by class %v; errors by proxy, client and code %v; stalled %v", what, total, byClass, codes, s.stalled)
	if byClass[huntWrong] > 0 {
		t.Errorf("%s: %d wrong results", what, byClass[huntWrong])
	}
	if len(s.stalled) > 0 {
		t.Errorf("%s: stalled calls %v", what, s.stalled)
	}
	if byClass[rollGaveUp] > 0 {
		t.Errorf("%s: %d calls failed on every retry for %v", what, byClass[rollGaveUp], defaultTestTimeout)
	}
	if noErrors && total > byClass[huntOK] {
		t.Errorf("%s: %d of %d failed under drains alone", what, total-byClass[huntOK], total)
	}
}

// TestFleetRollNoLiveUpstreams: once every replica is marked down (all
// crashed, or restarted in a hurry), each proxy must still reach the
// replicas that are back, on both of its ports.
//
// nginx marks a replica failed when it refuses a connection within
// fail_timeout. With only the marked servers, nginx tried none until
// fail_timeout ran out ("no live upstreams"): every gRPC call got
// UNAVAILABLE at once, and every raw-TCP client a clean close with no
// reply, which a bare nc takes for an empty output. The shipped file lists
// the replicas again as backups that are never marked. The test sets
// fail_timeout to an hour, so that the marks last whatever the machine's
// pace: it checks what nginx does while they hold, not how long they do.
//
// HAProxy marks a replica DOWN when its checks fail (fall 2), and UP
// again only after rise 2 good ones. With only the checked servers, it
// sent nothing to any replica in between: every gRPC call HAProxy's 503,
// every raw-TCP client a clean close with nothing written ("SC",
// <NOSRV>). The shipped file sends the connections that come then to a
// replica whose last check passed (halfclose.lua), through the backends
// without checks (unchecked_grpc, unchecked_tcp); with none ready, a gRPC
// call gets HAProxy's 503 at once and a raw-TCP client the adapter's
// error line (listen tcp_no_replica_line), held no longer than a replica
// would hold it. The test sets rise to 100000, so that the replicas stay
// DOWN for the test's length once marked (and fall to 1, so that they
// are marked sooner), and logs every check's change of result, so that
// it sees the replicas back ("succeeded"): it checks what HAProxy does
// while they are DOWN, not how long that is.
func TestFleetRollNoLiveUpstreams(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	// Each proxy with a fleet of its own, both at once.
	t.Run("nginx", func(t *testing.T) {
		t.Parallel()
		for _, tool := range []string{"nginx", "nc", "envsubst"} {
			need(t, tool)
		}
		f := newFleetArgs(t, "0s")
		p := f.startProxy(t, "nginx", func(t *testing.T, cfg string) string {
			if n := strings.Count(cfg, "fail_timeout=2s"); n != 9 {
				t.Fatalf("nginx.conf.template: %d servers with fail_timeout=2s, want 9 (3 replicas, 3 upstreams)", n)
			}
			return strings.ReplaceAll(cfg, "fail_timeout=2s", "fail_timeout=1h")
		})
		noLiveUpstreams(t, f, p, func(t *testing.T) {
			// With no replica up, each call tries all three
			// (grpc_next_upstream_tries and proxy_next_upstream_tries
			// 3): every one refuses and is marked.
			in := randomFile(t, 1<<10)
			req := writeHuntRequest(t, t.TempDir(), "bare", "sha256sum\n", in)
			if r := cli(t, p.grpc, "", "sha256sum", in); r.code == 0 {
				t.Fatalf("gRPC call with every replica down: exit 0, %q", r.stdout)
			}
			if r := run(t, "", req, ncArgv(t, p.tcp)...); len(r.stdout) != 0 {
				t.Fatalf("raw-TCP call with every replica down: %q", r.stdout)
			}
			if r := run(t, "", in, ncArgv(t, p.route)...); len(r.stdout) != 0 {
				t.Fatalf("route-port call with every replica down: %q", r.stdout)
			}
		}, nil)
	})
	t.Run("haproxy", func(t *testing.T) {
		t.Parallel()
		for _, tool := range []string{"haproxy", "nc"} {
			need(t, tool)
		}
		f := newFleetArgs(t, "0s")
		// HAProxy as one process, reloaded once the classic way (a new
		// process with -sf OLDPID): the error line below comes from a
		// process that took the no-replica detour's sockets over from
		// another. While they were abns@, the old process crashed at
		// that reload (docs/deploy.md, "Reloading HAProxy"), which fails
		// the test when it ends.
		p := f.startProxySF(t, haproxyStayDown)
		p.reload(t)
		// The replica's own line for an empty input on the command
		// port, read while the replicas are up.
		emptyIn := randomFile(t, 0)
		emptyCommand := f.emptyCommandLine(t, emptyIn)
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		defer cancel()
		backends := []string{"halfclose_grpc", "halfclose_tcp", "halfclose_route"}
		noLiveUpstreams(t, f, p, func(t *testing.T) {
			for _, be := range backends {
				for _, r := range f.replicas {
					if err := p.log.waitText(ctx, "Server "+be+"/"+r.name+" is DOWN"); err != nil {
						t.Fatalf("%v\n%s", err, p.log.tail())
					}
					p.log.watch(be + "/" + r.name + " succeeded")
				}
			}
			// With no replica ready, the gRPC call gets HAProxy's 503
			// at once (no replica tried), and a raw-TCP client the
			// adapter's error line (halfclose.lua), not a clean close
			// with nothing written: nc prints it.
			in := randomFile(t, 1<<10)
			req := writeHuntRequest(t, t.TempDir(), "bare", "sha256sum\n", in)
			if r := cli(t, p.grpc, "", "sha256sum", in); r.code == 0 || !bytes.Contains(r.stderr, []byte(haproxyNoReplica)) {
				t.Errorf("gRPC call with every replica down: exit %d, %q, stderr %q; want HAProxy's 503 with %q", r.code, r.stdout, r.stderr, haproxyNoReplica)
			}
			if r := run(t, "", req, ncArgv(t, p.tcp)...); string(r.stdout) != haproxyTCPUnavailable {
				t.Errorf("raw-TCP call (nc -N) with every replica down: exit %d, %q; want %q\n%s", r.code, r.stdout, haproxyTCPUnavailable, p.log.complaints())
			}
			// The route port the same (route_in, through tcp_no_replica).
			if r := run(t, "", in, ncArgv(t, p.route)...); string(r.stdout) != haproxyTCPUnavailable {
				t.Errorf("route-port call (nc -N) with every replica down: exit %d, %q; want %q\n%s", r.code, r.stdout, haproxyTCPUnavailable, p.log.complaints())
			}
			// An empty input (a FIN before the first byte) is answered
			// before the no-replica path, as with replicas up (docs/
			// deploy.md, "An empty input through HAProxy"): a replica
			// would give no other answer, and UNAVAILABLE would have the
			// client retry a job that cannot run.
			if r := run(t, "", emptyIn, ncArgv(t, p.tcp)...); !bytes.Equal(r.stdout, emptyCommand) {
				t.Errorf("empty input (nc -N < /dev/null) to the command port with every replica down: exit %d, %q; want the replica's own %q\n%s", r.code, r.stdout, emptyCommand, p.log.complaints())
			}
			if r := run(t, "", emptyIn, ncArgv(t, p.route)...); string(r.stdout) != haproxyEmptyInputRoute {
				t.Errorf("empty input (nc -N < /dev/null) to the route port with every replica down: exit %d, %q; want %q\n%s", r.code, r.stdout, haproxyEmptyInputRoute, p.log.complaints())
			}
			// A client that never half-closes gets the line too, and then
			// the end of the connection, as from a replica after
			// --tcp-fin-wait: not held for tcp_in's timeout client (an
			// hour; the read's deadline is the test's timeout). Its end is
			// clean (the line is all there is): HAProxy's tunnel timeout
			// in backend tcp_no_replica. This client and the next are
			// served at once (t.Run from two goroutines): each waits out
			// that timeout (5 s).
			var clients sync.WaitGroup
			defer clients.Wait()
			clients.Go(func() {
				t.Run("no FIN", func(t *testing.T) {
					c, err := net.Dial("tcp", p.tcp)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if _, err := c.Write([]byte("sha256sum\nhello\n")); err != nil {
						t.Fatal(err)
					}
					if err := c.SetReadDeadline(time.Now().Add(defaultTestTimeout)); err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(c)
					if err != nil || string(got) != haproxyTCPUnavailable {
						t.Errorf("raw-TCP client without FIN, every replica down: %q, %v; want %q and the end\n%s", got, err, haproxyTCPUnavailable, p.log.complaints())
					}
				})
			})
			// A client that sends on and on after the line is cut, as a
			// replica cuts one after --tcp-fin-wait: its sends fail (the
			// write deadline is the test's timeout), and what it reads is
			// the line.
			clients.Go(func() {
				t.Run("sends on", func(t *testing.T) {
					c, err := net.Dial("tcp", p.tcp)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if err := c.SetDeadline(time.Now().Add(defaultTestTimeout)); err != nil {
						t.Fatal(err)
					}
					sent := make(chan error, 1)
					go func() {
						chunk := make([]byte, 32<<10)
						for {
							if _, err := c.Write(chunk); err != nil {
								sent <- err
								return
							}
						}
					}()
					got, _ := io.ReadAll(c)
					if string(got) != haproxyTCPUnavailable {
						t.Errorf("raw-TCP client sending on, every replica down: read %q; want %q", got, haproxyTCPUnavailable)
					}
					var ne net.Error
					if err := <-sent; errors.As(err, &ne) && ne.Timeout() {
						t.Errorf("raw-TCP client sending on, every replica down: still sending at the test's deadline (%v)\n%s", err, p.log.complaints())
					}
				})
			})
		}, func(t *testing.T) {
			// The replicas are back; each passes a check, and stays DOWN.
			// halfclose.lua then sends the calls to those replicas
			// through the backends without checks, and the log names them.
			for _, be := range backends {
				for _, r := range f.replicas {
					if _, err := p.log.waitWatched(ctx, be+"/"+r.name+" succeeded"); err != nil {
						t.Fatalf("%v\n%s", err, p.log.tail())
					}
				}
			}
			p.log.watch(" unchecked_grpc/r")
			p.log.watch(" tcp_in unchecked_tcp/r")
			p.log.watch(" route_in unchecked_route/r")
		})
		// The log names the backend without checks and the replica that
		// took each call: how an operator sees this path used.
		if _, err := p.log.waitWatched(ctx, " unchecked_grpc/r"); err != nil {
			t.Errorf("gRPC call through unchecked_grpc: %v\n%s", err, p.log.tail())
		}
		routeLine, err := p.log.waitWatched(ctx, " route_in unchecked_route/r")
		if err != nil {
			t.Fatalf("route-port call through unchecked_route: %v\n%s", err, p.log.tail())
		}
		line, err := p.log.waitWatched(ctx, " tcp_in unchecked_tcp/r")
		if err != nil {
			t.Fatalf("raw-TCP call through unchecked_tcp: %v\n%s", err, p.log.tail())
		}
		// halfclose.lua picks the replica from the checks' results: it
		// sends nothing to any (a probe connection would be a job with
		// no header in a replica's log). The replicas that took the
		// raw-TCP call and the route-port call logged those jobs, and
		// none other.
		took := map[string]int{}
		for _, c := range []struct{ line, frontend, backend string }{
			{line, "tcp_in", "unchecked_tcp"}, {routeLine, "route_in", "unchecked_route"},
		} {
			name := strings.Fields(c.line[strings.Index(c.line, " "+c.frontend+" "+c.backend+"/"):])[1]
			took[strings.TrimPrefix(name, c.backend+"/")]++
		}
		jobs := 0
		for _, r := range f.replicas {
			l := r.currentLog()
			if n := took[r.name]; n > 0 {
				if err := l.wait(ctx, nil, func(s *logState) bool { return s.tcpJobs >= n }); err != nil {
					t.Fatalf("%s took %d raw-TCP calls (the command port's, the route port's): %v\n%s", r.name, n, err, l.tail())
				}
			}
			jobs += l.snapshot().tcpJobs
		}
		if jobs != 2 {
			t.Errorf("%d raw-TCP jobs in the replicas' logs, want 2 (the call on the command port, the one on the route port)", jobs)
		}
	})
}

// TestFleetRollNoLiveUpstreamsDraining: with every replica DOWN, HAProxy
// sends a call past its checks only to a replica whose last check
// passed. One that drains (/readyz 503, its listeners open for
// --drain-delay) is not one: with it draining and the others dead, a
// call gets HAProxy's 503 and a raw-TCP client the error line, and the
// draining replica gets no new job (an earlier version tried a connect
// to each replica and sent the call to the first that accepted: the
// draining one).
func TestFleetRollNoLiveUpstreamsDraining(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	for _, tool := range []string{"haproxy", "nc"} {
		need(t, tool)
	}
	f := newFleetArgs(t, "1h")
	p := f.startProxy(t, "haproxy", haproxyStayDown)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	draining := f.replicas[0]
	draining.mu.Lock()
	cmd, log := draining.cmd, draining.log
	draining.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := log.waitText(ctx, `"msg":"shutting down"`); err != nil {
		t.Fatalf("%s: %v\n%s", draining.name, err, log.tail())
	}
	defer draining.kill(t)
	for _, r := range f.replicas[1:] {
		r.kill(t)
	}
	for _, be := range []string{"halfclose_grpc", "halfclose_tcp", "halfclose_route"} {
		for _, r := range f.replicas {
			if err := p.log.waitText(ctx, "Server "+be+"/"+r.name+" is DOWN"); err != nil {
				t.Fatalf("%v\n%s", err, p.log.tail())
			}
		}
	}
	in := randomFile(t, 1<<10)
	req := writeHuntRequest(t, t.TempDir(), "bare", "sha256sum\n", in)
	if r := cli(t, p.grpc, "", "sha256sum", in); r.code == 0 || !bytes.Contains(r.stderr, []byte(haproxyNoReplica)) {
		t.Errorf("gRPC call, one replica draining and the others dead: exit %d, %q, stderr %q; want HAProxy's 503 with %q", r.code, r.stdout, r.stderr, haproxyNoReplica)
	}
	if r := run(t, "", req, ncArgv(t, p.tcp)...); string(r.stdout) != haproxyTCPUnavailable {
		t.Errorf("raw-TCP call (nc -N), one replica draining and the others dead: exit %d, %q; want %q\n%s", r.code, r.stdout, haproxyTCPUnavailable, p.log.complaints())
	}
	if r := run(t, "", in, ncArgv(t, p.route)...); string(r.stdout) != haproxyTCPUnavailable {
		t.Errorf("route-port call (nc -N), one replica draining and the others dead: exit %d, %q; want %q\n%s", r.code, r.stdout, haproxyTCPUnavailable, p.log.complaints())
	}
	// Only jobs with a command count: startProxy's dial through tcp_in
	// (to see that HAProxy listens) reached a replica as a connection
	// with no header, a job without one.
	if s, jobs := log.snapshot(), log.outcomeCounts(); s.grpcJobs != 0 || len(jobs) != 0 {
		t.Errorf("the draining replica logged %d gRPC calls and jobs %v, want none\n%s", s.grpcJobs, jobs, log.tail())
	}
}

// haproxyStayDown is a startProxy edit of haproxy.cfg: a replica marked
// DOWN stays DOWN for the test's length (rise 100000; fall 1, so that it
// is marked sooner), whatever the machine's pace, and every change of a
// check's result is logged (a replica back says "succeeded").
func haproxyStayDown(t *testing.T, cfg string) string {
	const checks = "inter 1s fall 2 rise 2"
	if n := strings.Count(cfg, checks); n != 3 {
		t.Fatalf("haproxy.cfg: %d lines with %q, want 3 (the default-server of each checked backend)", n, checks)
	}
	cfg = strings.ReplaceAll(cfg, checks, "inter 1s fall 1 rise 100000")
	return strings.Replace(cfg, "defaults\n", "defaults\n    option log-health-checks\n", 1)
}

// haproxyTCPUnavailable is deploy/haproxy/halfclose.lua's error line.
const haproxyTCPUnavailable = "halfclose: error: UNAVAILABLE: haproxy: no replica is ready to take the connection\n"

// noLiveUpstreams kills every replica, lets markDown see the proxy mark
// them all, starts them again, runs back (when not nil) and checks that a
// gRPC call (the CLI) and a raw-TCP call (nc -N) through p get their
// results.
func noLiveUpstreams(t *testing.T, f *fleet, p *proxy, markDown, back func(t *testing.T)) {
	in := randomFile(t, 1<<10)
	sha := run(t, "", "", "sha256sum", in).stdout
	shaStdin := gnu(t, in, "sha256sum")
	req := writeHuntRequest(t, t.TempDir(), "bare", "sha256sum\n", in)
	hc := bin(t, "halfclose")
	for _, r := range f.replicas {
		r.kill(t)
	}
	markDown(t)
	for _, r := range f.replicas {
		r.start(t)
	}
	if back != nil {
		back(t)
	}
	if r := run(t, "", "", hc, "--addr", p.grpc, "sha256sum", in); r.code != 0 || !bytes.Equal(r.stdout, sha) {
		t.Errorf("gRPC call, the replicas back: exit %d, %q, stderr %s; want %q\n%s", r.code, r.stdout, firstLine(r.stderr), sha, p.log.complaints())
	}
	if r := run(t, "", req, ncArgv(t, p.tcp)...); !bytes.Equal(r.stdout, shaStdin) {
		t.Errorf("raw-TCP call (nc -N), the replicas back: exit %d, %q; want %q\n%s", r.code, r.stdout, shaStdin, p.log.complaints())
	}
	routeWant := gnu(t, in, fleetRoute)
	if r := run(t, "", in, ncArgv(t, p.route)...); !bytes.Equal(r.stdout, routeWant) {
		t.Errorf("route-port call (nc -N), the replicas back: exit %d, %q; want %q\n%s", r.code, r.stdout, routeWant, p.log.complaints())
	}
}

// TestFleetCrashBeforeChecks: the whole fleet crashes and a raw-TCP
// client comes before HAProxy's checks have noticed (fall 2: up to
// ~2 s). Every connect is refused; HAProxy's last failed connect closes
// the client's connection cleanly with nothing written, which nc -N
// shows as an empty output and exit 0. The shipped file marks a replica
// DOWN at its first refused connect (observe layer4, on-error
// mark-down), so the retries end on halfclose_tcp's backup, the
// adapter's error line. The test sets inter to an hour, so that no check
// runs while it does: only the refused connects can mark the replicas.
func TestFleetCrashBeforeChecks(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	for _, tool := range []string{"haproxy", "nc"} {
		need(t, tool)
	}
	f := newFleetArgs(t, "0s")
	p := f.startProxy(t, "haproxy", func(t *testing.T, cfg string) string {
		const checks = "check inter 1s fall 2 rise 2"
		if n := strings.Count(cfg, checks); n != 2 {
			t.Fatalf("haproxy.cfg: %d lines with %q, want 2 (halfclose_tcp's and halfclose_route's default-server)", n, checks)
		}
		return strings.ReplaceAll(cfg, checks, "check inter 1h fall 2 rise 2")
	})
	for _, r := range f.replicas {
		r.kill(t)
	}
	in := randomFile(t, 1<<10)
	req := writeHuntRequest(t, t.TempDir(), "bare", "sha256sum\n", in)
	for i := range 2 {
		if r := run(t, "", req, ncArgv(t, p.tcp)...); string(r.stdout) != haproxyTCPUnavailable {
			t.Errorf("raw-TCP call %d (nc -N), the fleet crashed, the checks not run: exit %d, %q; want %q\n%s", i, r.code, r.stdout, haproxyTCPUnavailable, p.log.tail())
		}
	}
	// The route port the same (halfclose_route: its own marks, its own
	// backup to the error line).
	for i := range 2 {
		if r := run(t, "", in, ncArgv(t, p.route)...); string(r.stdout) != haproxyTCPUnavailable {
			t.Errorf("route-port call %d (nc -N), the fleet crashed, the checks not run: exit %d, %q; want %q\n%s", i, r.code, r.stdout, haproxyTCPUnavailable, p.log.tail())
		}
	}
}
