//go:build fleet && linux

// The fleet test: three halfclosed replicas behind the Debian nginx, and
// three behind HAProxy, configured with deploy/nginx and deploy/haproxy
// as shipped. It checks every path against the GNU tools, shows that each
// proxy trap named in docs/deploy.md is real, and restarts the replicas
// one by one under load. Run it with make test-fleet (it needs nginx, the nginx stream
// module, haproxy, nc and ghz; .ci/run installs them). Linux only: its
// replicas die with the test (Pdeathsig), and the deploy files are Debian's.
//
// Knobs (environment):
//
//	FLEET_ROUNDS            rolling restarts per proxy, in a row (default 1)
//	FLEET_MAX_FAILED_CALLS  failed gRPC calls tolerated per round (default 0)
//	FLEET_RPS               ghz calls per second during a restart (default 300)
//	FLEET_PROXIES           proxies to test (default "nginx,haproxy")
//	FLEET_DRAIN_DELAY       --drain-delay of the replicas (default 4s: longer
//	                        than HAProxy needs to see /readyz fail, fall 2 ×
//	                        inter 1s + check)

package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// fleetKnobs are the FLEET_* settings.
type fleetKnobs struct {
	rounds     int
	maxFailed  int
	rps        int
	proxies    []string
	drainDelay string
}

func readFleetKnobs(t *testing.T) fleetKnobs {
	t.Helper()
	k := fleetKnobs{rounds: 1, rps: 300, proxies: []string{"nginx", "haproxy"}, drainDelay: "4s"}
	k.rounds = envInt(t, "FLEET_ROUNDS", k.rounds, 1)
	k.maxFailed = envInt(t, "FLEET_MAX_FAILED_CALLS", k.maxFailed, 0)
	k.rps = envInt(t, "FLEET_RPS", k.rps, 1)
	if v := os.Getenv("FLEET_PROXIES"); v != "" {
		k.proxies = strings.Split(v, ",")
		for _, p := range k.proxies {
			if p != "nginx" && p != "haproxy" {
				t.Fatalf("FLEET_PROXIES: unknown proxy %q (nginx, haproxy)", p)
			}
		}
	}
	if v := os.Getenv("FLEET_DRAIN_DELAY"); v != "" {
		if _, err := time.ParseDuration(v); err != nil {
			t.Fatalf("FLEET_DRAIN_DELAY=%q: %v", v, err)
		}
		k.drainDelay = v
	}
	return k
}

// envInt is the integer knob name, def when it is unset; a value that is
// not an integer >= lo fails the test (never a silent 0 rounds).
func envInt(t *testing.T, name string, def, lo int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		t.Fatalf("%s=%q: want an integer >= %d", name, v, lo)
	}
	return n
}

// TestFleet and TestFleetHunt run alone, one after the other: their loads
// run flat out, and beside another test each would make fewer calls. The
// other fleet tests wait far more than they compute (slow uploads, nc's
// stalls, the proxies' timeouts and checks, replicas' drains): they are
// t.Parallel ("with the other waiting fleet tests"), and run together
// once those two are done, each with replicas and proxies of its own on
// addresses of its own. make test-fleet gives them -parallel 16: the
// default, GOMAXPROCS (2 on CI's machine), ran them nearly one at a time.

// TestFleet is the whole fleet check: paths, traps, rolling restarts.
func TestFleet(t *testing.T) {
	knobs := readFleetKnobs(t)
	for _, tool := range []string{"nginx", "haproxy", "nc", "envsubst", "b3sum"} {
		need(t, tool)
	}
	bin(t, "ghz")
	bin(t, "grpcurl")
	needNginxStream(t)

	// Each proxy has three replicas of its own, so that the checks that
	// wait on clients, processes and sockets more than they compute
	// (paths, traps, aborts, crash) run for both proxies at once: the
	// aborts count the outcomes of their fleet's jobs one at a time
	// (nextOutcome), and the crash kills every replica of its fleet. The
	// rolling restarts still run one at a time, each with the whole
	// machine for its load.
	fleets := map[string]*fleet{}
	proxies := map[string]*proxy{}
	for _, name := range knobs.proxies {
		fleets[name] = newFleet(t)
		proxies[name] = fleets[name].startProxy(t, name, nil)
	}
	// eachProxy runs check for every proxy at once, in subtests named
	// after the proxies.
	eachProxy := func(t *testing.T, check func(t *testing.T, f *fleet, p *proxy)) {
		for _, name := range knobs.proxies {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				check(t, fleets[name], proxies[name])
			})
		}
	}

	t.Run("paths", func(t *testing.T) {
		eachProxy(t, func(t *testing.T, f *fleet, p *proxy) { f.checkPaths(t, p) })
	})
	t.Run("traps", func(t *testing.T) {
		eachProxy(t, func(t *testing.T, f *fleet, p *proxy) { f.checkTraps(t, p.name) })
	})
	t.Run("aborts", func(t *testing.T) {
		eachProxy(t, func(t *testing.T, f *fleet, p *proxy) {
			f.checkAborts(t, p)
			f.checkExampleAborts(t, p)
		})
	})
	if t.Failed() {
		return // restarts under load say little when a path is broken
	}
	for round := 1; round <= knobs.rounds; round++ {
		for _, name := range knobs.proxies {
			t.Run(fmt.Sprintf("rolling/%s/round%d", name, round), func(t *testing.T) {
				fleets[name].rollingRestart(t, proxies[name], knobs, false)
			})
		}
	}
	// Then a restart where each replica gets a second SIGTERM as soon as
	// it starts to drain: its running jobs are cut.
	for _, name := range knobs.proxies {
		t.Run("hurried/"+name, func(t *testing.T) { fleets[name].rollingRestart(t, proxies[name], knobs, true) })
	}
	// Last: it kills the replicas, and the proxies take a while to route
	// to their restarted selves again.
	t.Run("crash", func(t *testing.T) {
		eachProxy(t, func(t *testing.T, f *fleet, p *proxy) { f.checkCrash(t, p) })
	})
	var recap []string
	for _, name := range knobs.proxies {
		recap = append(recap, fleets[name].recap...)
	}
	if len(recap) > 0 {
		t.Logf("the rolling restarts' failures again:\n%s", strings.Join(recap, "\n"))
	}
}

// checkCrash: the replicas are killed (SIGKILL, a crash) in the middle of
// a reply going through the proxy. The dead replica's connection ends
// with a FIN or an RST, and the proxy passes either on to the client as a
// clean end of the reply (docs/protocol.md, "What a bare nc can tell"):
// only the client's own check can tell the reply is incomplete. The CLI
// must exit non-zero, on gRPC (no summary) and on raw TCP (no @trailer),
// never 0 with part of the output; so must the Python and Node example
// clients (no summary), whatever status their library makes of the cut.
func (f *fleet) checkCrash(t *testing.T, p *proxy) {
	in := randomFile(t, 24<<20) // 32 MiB of base64 out: more than the sockets and the proxy hold
	hc := bin(t, "halfclose")
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"grpc", []string{hc, "--addr", p.grpc, "base64"}},
		{"tcp", []string{hc, "--tcp", "--tcp-addr", p.tcp, "base64"}},
		{"python", append(exampleClient(t, "python"), "--addr", p.grpc, "run", "base64")},
		{"node", append(exampleClient(t, "node"), "--addr", p.grpc, "run", "base64")},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The reply has started once its first MiB is read; the CLI then
			// waits on its stdout, and the replica on the CLI. A call can
			// fail before that while the proxy still counts a killed
			// replica of the previous case as down: it is tried again.
			var cmd *exec.Cmd
			var stdout io.ReadCloser
			var stderr bytes.Buffer
			deadline := time.Now().Add(defaultTestTimeout)
			for {
				cmd = exec.Command(c.argv[0], c.argv[1:]...)
				cmd.Env = cleanEnv()
				stdin, err := os.Open(in)
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stdin = stdin
				stderr.Reset()
				cmd.Stderr = &stderr
				if stdout, err = cmd.StdoutPipe(); err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				_, err = io.ReadFull(stdout, make([]byte, 1<<20))
				stdin.Close()
				if err == nil {
					break
				}
				io.Copy(io.Discard, stdout)
				cmd.Wait()
				if time.Now().After(deadline) {
					t.Fatalf("%s base64 through %s: no output within %v: %s", c.name, p.name, defaultTestTimeout, stderr.Bytes())
				}
			}
			for _, r := range f.replicas {
				r.kill(t)
			}
			n, _ := io.Copy(io.Discard, stdout)
			err := cmd.Wait()
			for _, r := range f.replicas {
				r.start(t)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("%s base64 through %s, replicas killed after 1 MiB of the reply: %v after %d more bytes, stderr %q; want exit 1", c.name, p.name, err, n, stderr.Bytes())
			}
			if c.name == "tcp" && !bytes.Contains(stderr.Bytes(), []byte("incomplete reply")) {
				t.Errorf("halfclose --tcp through %s, replicas killed: stderr %q; want an incomplete reply", p.name, stderr.Bytes())
			}
			t.Logf("%s through %s, replicas killed after 1 MiB of the reply: exit 1 after %d more bytes: %s", c.name, p.name, n, bytes.TrimSpace(stderr.Bytes()))
		})
	}
}

// fleet is three replicas on fixed loopback ports (so a restarted replica
// comes back where the proxies expect it) and what the proxies need.
type fleet struct {
	replicas  []*replica
	nginxConf string
	haCfg     string
	// proxyHost, when set, is the loopback address the proxies listen
	// on (ports picked free there), not one of their own: TestFleetTLS
	// issues the certificates for it before the proxies start.
	proxyHost string

	// The rolling restarts' failures, repeated at the end of TestFleet:
	// a CI log is often cut to its last lines.
	recapMu sync.Mutex
	recap   []string
}

// errorf fails t and keeps the message for TestFleet's recap.
func (f *fleet) errorf(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Error(msg)
	f.recapMu.Lock()
	f.recap = append(f.recap, t.Name()+": "+msg)
	f.recapMu.Unlock()
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	return newFleetArgs(t, readFleetKnobs(t).drainDelay)
}

// newFleetArgs is newFleet with replicas of another --drain-delay, and
// extra flags.
func newFleetArgs(t *testing.T, delay string, extra ...string) *fleet {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{
		nginxConf: filepath.Join(root, "deploy/nginx/nginx.conf.template"),
		haCfg:     filepath.Join(root, "deploy/haproxy/haproxy.cfg"),
	}
	t.Logf("replicas: --drain-delay %s %s, /readyz on --health-addr", delay, strings.Join(extra, " "))

	addrs := ownAddrs(t, 3*5)
	for i := range 3 {
		r := &replica{
			name:    fmt.Sprintf("r%d", i+1),
			grpc:    addrs[5*i],
			tcp:     addrs[5*i+1],
			health:  addrs[5*i+2],
			metrics: addrs[5*i+3],
			route:   addrs[5*i+4],
		}
		// Behind the proxies every client has the proxy's address: the
		// per-peer caps are off, as docs/operations.md ("Fairness") says.
		// The route port is the proxies' route (HC_R1_ROUTE...): the
		// whole stream is sha256sum's input.
		r.args = []string{"--grpc-addr", r.grpc, "--tcp-addr", r.tcp, "--health-addr", r.health, "--metrics-addr", r.metrics,
			"--tcp-route", r.route + "=" + fleetRoute,
			"--drain-delay", delay, "--log-format", "json", "--log-flush", "0",
			"--max-jobs-per-peer", "0", "--max-requests-per-peer", "0"}
		r.args = append(r.args, extra...)
		f.replicas = append(f.replicas, r)
	}
	for _, r := range f.replicas {
		r.start(t)
	}
	// At once: each waits out its --drain-delay (4 s for TestFleet's),
	// and one after another they took three times that at every test's end.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, r := range f.replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.stop(t, false)
			}()
		}
		wg.Wait()
	})
	return f
}

// freeAddrs returns n distinct loopback addresses nothing listens on now.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	return freeAddrsOn(t, "127.0.0.1", n)
}

// ownAddrs is freeAddrs on a loopback address of its own, 127.x.y.z,
// chosen at random, for ports that are let go and bound again later: a
// replica restarts on the same ports, a proxy binds the ports picked for
// it only after rendering and checking its configuration, and a refused
// replica (TestFleetHAProxyStatus) must stay refused. On 127.0.0.1 such a
// port could be taken in between by the local end of any connection the
// test's clients and proxies opened (the kernel's ephemeral ports; the
// source address of a connection to any 127.x.y.z is 127.0.0.1): "r2 not
// listening ... bind: address already in use" failed a run of
// TestFleetRollNoLiveUpstreams and one of make test-fleet. And by the
// fleet tests that run at once (t.Parallel): another test's freeAddrs,
// whose proxy then binds it first; HAProxy binds with SO_REUSEPORT, so
// two of them would even share a port, each taking some of the other
// test's connections. On an address of its own, only a listener there
// or on the wildcard address can take it.
func ownAddrs(t *testing.T, n int) []string {
	t.Helper()
	var b [3]byte
	if _, err := crand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// 127.128.0.1 to 127.255.255.254: clear of 127.0.0.x, which the
	// tests use for peers of their own (127.0.0.11 and the like).
	return freeAddrsOn(t, fmt.Sprintf("127.%d.%d.%d", 128+b[0]%128, b[1], 1+b[2]%254), n)
}

// freeAddrsOn returns n distinct addresses on host nothing listens on now.
func freeAddrsOn(t *testing.T, host string, n int) []string {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out
}

// fleetRoute is the pipeline of the fleet replicas' route port (--tcp-route).
const fleetRoute = "sha256sum"

// replica is one halfclosed process, restartable on the same addresses.
type replica struct {
	name              string
	grpc, tcp, health string
	metrics           string // --metrics-addr (checkExampleAborts)
	// route is its --tcp-route address (fleetRoute), "" for a replica
	// without one: the proxies' route port then leads to its tcp
	// address, which no test dials through them.
	route string
	args  []string

	mu     sync.Mutex // protects the fields below
	cmd    *exec.Cmd
	log    *eventLog
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

// start runs the replica and waits for its four listeners (five with a
// route).
func (r *replica) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(bin(t, "halfclosed"), r.args...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log := newEventLog()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	exited := make(chan struct{})
	r.mu.Lock()
	r.cmd, r.log, r.exited = cmd, log, exited
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(exited)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	listeners := 4
	if r.route != "" {
		listeners++
	}
	err := log.wait(ctx, exited, func(s *logState) bool { return s.listening >= listeners })
	if err != nil {
		t.Fatalf("%s not listening: %v\n%s", r.name, err, log.tail())
	}
}

// stop sends SIGTERM (and, when hurried, a second one once the drain has
// begun) and waits for a clean exit (status 0) within defaultTestTimeout;
// it returns how long the exit took.
func (r *replica) stop(t *testing.T, hurried bool) time.Duration {
	t.Helper()
	r.mu.Lock()
	cmd, exited, log := r.cmd, r.exited, r.log
	r.mu.Unlock()
	select {
	case <-exited:
		return 0 // already stopped (an earlier failure)
	default:
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if hurried {
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		err := log.waitText(ctx, `"msg":"shutting down"`)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", r.name, err)
		}
		cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(defaultTestTimeout):
		cmd.Process.Kill()
		<-exited
		t.Errorf("%s did not exit within %v of SIGTERM\n%s", r.name, defaultTestTimeout, log.tail())
	}
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	if err != nil {
		t.Errorf("%s exited with %v after SIGTERM\n%s", r.name, err, log.tail())
	}
	return time.Since(start)
}

// kill sends SIGKILL (a crash) and waits for the process to end.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(defaultTestTimeout):
		t.Fatalf("%s did not die of SIGKILL within %v", r.name, defaultTestTimeout)
	}
}

func (r *replica) currentLog() *eventLog {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log
}

// eventLog parses a replica's JSON log as it is written and wakes waiters.
type eventLog struct {
	mu      sync.Mutex // protects the fields below
	partial []byte
	state   logState
	lines   []string      // the last few lines, for failure reports
	errs    []string      // the last error and warning lines (proxies)
	crashes []string      // a proxy's lines that say one of its workers crashed (proxyCrash)
	changed chan struct{} // closed and replaced on every update
	// outcomes counts the jobs (both adapters) by job.outcome, but
	// those without a command: a proxy's health checks on the TCP port.
	outcomes map[string]int
	// watched holds, for each text given to watch, the last line
	// written since that contains it ("" while none has).
	watched map[string]string
}

// logState is what the tests wait for in a replica's log.
type logState struct {
	listening   int // "... listening" lines
	grpcJobs    int // finished ComputeService calls
	tcpJobs     int // raw-TCP job lines
	unavailable int // jobs of either adapter refused or cut by the drain
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

const eventLogTail = 40

func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if len(l.lines) == eventLogTail {
			l.lines = l.lines[1:]
		}
		l.lines = append(l.lines, line)
		for text := range l.watched {
			if strings.Contains(line, text) {
				l.watched[text] = line
			}
		}
		if proxyCrash.MatchString(line) {
			l.crashes = append(l.crashes, line)
		}
		if proxyComplaint.MatchString(line) {
			if len(l.errs) == eventLogTail {
				l.errs = l.errs[1:]
			}
			l.errs = append(l.errs, line)
		}
		var rec struct {
			Msg     string `json:"msg"`
			Service string `json:"grpc.service"`
			Adapter string `json:"adapter"`
			Job     struct {
				Command string `json:"command"`
				Outcome string `json:"outcome"`
			} `json:"job"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch {
		case strings.HasSuffix(rec.Msg, " listening"):
			l.state.listening++
		case rec.Msg == "finished call" && rec.Service == "halfclose.v1.ComputeService":
			l.state.grpcJobs++
		case rec.Msg == "job" && rec.Adapter == "tcp":
			l.state.tcpJobs++
		}
		if rec.Job.Outcome == "unavailable" {
			l.state.unavailable++
		}
		if rec.Job.Command != "" { // not a proxy's health check
			if l.outcomes == nil {
				l.outcomes = map[string]int{}
			}
			l.outcomes[rec.Job.Outcome]++
		}
	}
	l.partial = slices.Clip(l.partial)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// wait returns when ok is true of the log's state, or an error when ctx
// ends or the process exits first.
func (l *eventLog) wait(ctx context.Context, exited <-chan struct{}, ok func(*logState) bool) error {
	for {
		l.mu.Lock()
		done, ch := ok(&l.state), l.changed
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// outcomeCounts returns how many jobs ended with each outcome so far.
func (l *eventLog) outcomeCounts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.outcomes)
}

func (l *eventLog) snapshot() logState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// proxyComplaint is an nginx or HAProxy error or warning line, or the
// FATAL line of a HAProxy BUG_ON.
var proxyComplaint = regexp.MustCompile(`\[(error|warn|crit|alert|emerg)\]|\[(WARNING|ALERT)\]|^FATAL: `)

// proxyCrash is a master's line for a worker that died of SIGILL, SIGABRT,
// SIGBUS, SIGFPE or SIGSEGV: nginx's "worker process N exited on signal
// 11", HAProxy's (master-worker) "Current worker (N) exited with code
// 139 (Segmentation fault)", or "Former worker" after a reload. Not
// SIGKILL (137, 9) nor SIGTERM: proxy.restart sends those.
var proxyCrash = regexp.MustCompile(`exited on signal (4|6|7|8|11)\b|worker \(\d+\) exited with code (132|134|135|136|139)\b`)

// complaints returns the last error and warning lines.
func (l *eventLog) complaints() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.errs, "\n")
}

func (l *eventLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// proxy is a running nginx or HAProxy in front of the fleet.
type proxy struct {
	name             string
	grpc, tcp, route string // where it listens (route: HC_ROUTE_LISTEN)
	log              *eventLog
	// reload reloads the proxy's configuration as an operator does
	// (nginx: SIGHUP to the master; HAProxy: SIGUSR2 to the master, or
	// from startProxySF a new process with -sf OLDPID): connections open
	// stay with the old workers until they end.
	reload func(t *testing.T)
	// restart ends the proxy with sig, as an operator or a crash does
	// (SIGTERM: nginx's fast shutdown, HAProxy's hard stop; SIGKILL: a
	// crash, or a service manager killing the unit: the workers too),
	// waits until every process of it has exited, and starts it again
	// on the same addresses. Unlike a reload, the connections open go
	// with it.
	restart func(t *testing.T, sig syscall.Signal)
}

// proxyEnv is the HC_* environment of deploy/nginx and deploy/haproxy.
func (f *fleet) proxyEnv(grpcListen, tcpListen, routeListen string) map[string]string {
	env := map[string]string{"HC_GRPC_LISTEN": grpcListen, "HC_TCP_LISTEN": tcpListen, "HC_ROUTE_LISTEN": routeListen}
	for i, r := range f.replicas {
		n := strconv.Itoa(i + 1)
		env["HC_R"+n+"_GRPC"] = r.grpc
		env["HC_R"+n+"_TCP"] = r.tcp
		env["HC_R"+n+"_ROUTE"] = cmp.Or(r.route, r.tcp)
		_, port, _ := net.SplitHostPort(r.health)
		env["HC_R"+n+"_HEALTH_PORT"] = port
	}
	return env
}

// startProxy runs nginx or HAProxy with the shipped configuration, edited
// by edit when it is not nil (the trap checks), and waits until both its
// ports accept connections. It is stopped when the test ends. HAProxy runs
// in master-worker mode (startProxySF: a process of its own, reloaded
// with -sf).
func (f *fleet) startProxy(t *testing.T, name string, edit func(t *testing.T, cfg string) string) *proxy {
	t.Helper()
	return f.startProxyMode(t, name, edit, false)
}

// startProxySF is startProxy for HAProxy run without a master (no -W), as
// by hand or by an init script, whose reload is the classic one: a new
// process with -sf OLDPID, which binds the listeners beside the old
// process's and then has it stop listening and finish its connections.
// Its reload returns once the old process has exited.
func (f *fleet) startProxySF(t *testing.T, edit func(t *testing.T, cfg string) string) *proxy {
	t.Helper()
	return f.startProxyMode(t, "haproxy", edit, true)
}

func (f *fleet) startProxyMode(t *testing.T, name string, edit func(t *testing.T, cfg string) string, sf bool) *proxy {
	t.Helper()
	addrs := ownAddrs(t, 3)
	if f.proxyHost != "" {
		addrs = freeAddrsOn(t, f.proxyHost, 3)
	}
	p := &proxy{name: name, grpc: addrs[0], tcp: addrs[1], route: addrs[2], log: newEventLog()}
	env := f.proxyEnv(p.grpc, p.tcp, p.route)
	dir := t.TempDir()
	var argv []string
	cmdEnv := cleanEnv()
	for k, v := range env {
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	switch name {
	case "nginx":
		cfg := string(envsubstHC(t, string(readFile(t, f.nginxConf)), env))
		if hcName.MatchString(cfg) {
			t.Fatalf("nginx.conf.template: a ${HC_...} name the test does not set:\n%s", cfg)
		}
		if edit != nil {
			cfg = edit(t, cfg)
		}
		conf := writeFile(t, dir, "nginx.conf", []byte(cfg))
		global := "pid " + filepath.Join(dir, "nginx.pid") + "; daemon off;"
		if r := run(t, "", "", "nginx", "-t", "-q", "-e", "stderr", "-c", conf, "-g", global); r.code != 0 {
			t.Fatalf("nginx -t: %s", r.stderr)
		}
		argv = []string{"nginx", "-e", "stderr", "-c", conf, "-g", global}
	case "haproxy":
		cfg := f.haCfg
		if edit != nil {
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg = writeFile(t, dir, "haproxy.cfg", []byte(edit(t, string(b))))
			// The edited file's lua-load is from its own directory.
			lua, err := os.ReadFile(filepath.Join(filepath.Dir(f.haCfg), "halfclose.lua"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "halfclose.lua", lua)
		}
		// HC_SOCKET_DIR, for the UNIX sockets of the no-replica detour:
		// a directory of this HAProxy's own, not the default /tmp (HAProxy
		// leaves its sockets there), and short: a t.TempDir, named after
		// the test, took the path past HAProxy's limit (97 bytes).
		sockDir, err := os.MkdirTemp("", "hcsock")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sockDir) }) // after the processes stop: registered first
		cmdEnv = append(cmdEnv, "HC_SOCKET_DIR="+sockDir)
		check := exec.Command("haproxy", "-c", "-q", "-f", cfg)
		check.Env = cmdEnv
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c: %v\n%s", err, out)
		}
		// Master-worker mode (-W), as Debian's unit runs it (-Ws): a
		// reload is SIGUSR2 to the master, whose new worker takes the
		// listening sockets over from the old one (-x sockpair@). With
		// sf, one process and no master (docs/deploy.md, "Reloading
		// HAProxy").
		argv = []string{"haproxy", "-W", "-db", "-f", cfg}
		if sf {
			argv = []string{"haproxy", "-db", "-f", cfg}
		}
	}
	// Every process started, the reloads' too: each is stopped at the end.
	var procsMu sync.Mutex // protects procs
	var procs []*exec.Cmd
	exits := map[*exec.Cmd]chan struct{}{} // closed when its process has exited and been waited for
	var waitErr error
	// A proxy process that died of a signal it was not sent crashed: every
	// connection it held was cut, and a reload that crashes the old
	// process is no reload (HAProxy 2.6.12 reloaded with -sf did, at each
	// reload, while the config had abns@ listeners: docs/deploy.md). A
	// process started here (with sf, every HAProxy) is seen by Wait;
	// a worker, by its master's log line (proxyCrash). Checked once
	// every process has stopped (registered first, so run last).
	var crashes []string
	t.Cleanup(func() {
		procsMu.Lock()
		defer procsMu.Unlock()
		p.log.mu.Lock()
		crashes = append(crashes, p.log.crashes...)
		p.log.mu.Unlock()
		for _, c := range crashes {
			t.Errorf("%s: a process crashed: %s\n%s", name, c, p.log.complaints())
		}
	})
	startProc := func(argv []string) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = cmdEnv
		cmd.Stdout, cmd.Stderr = p.log, p.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() {
			err := cmd.Wait()
			procsMu.Lock()
			waitErr = err
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				switch ws.Signal() {
				case syscall.SIGSEGV, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGILL, syscall.SIGFPE:
					crashes = append(crashes, fmt.Sprintf("%v: %v", argv, ws.Signal()))
				}
			}
			procsMu.Unlock()
			close(exited)
		}()
		procsMu.Lock()
		procs = append(procs, cmd)
		exits[cmd] = exited
		procsMu.Unlock()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(defaultTestTimeout):
				cmd.Process.Kill()
				<-exited
				t.Errorf("%s did not stop within %v\n%s", name, defaultTestTimeout, p.log.tail())
			}
		})
		return cmd, exited
	}
	_, exited := startProc(argv)
	p.restart = func(t *testing.T, sig syscall.Signal) {
		procsMu.Lock()
		running := map[*exec.Cmd]chan struct{}{}
		for cmd, ch := range exits {
			select {
			case <-ch: // waited for: its pid may be another process's now
			default:
				running[cmd] = ch
			}
		}
		procsMu.Unlock()
		var workers []int
		deadline := time.After(defaultTestTimeout)
	signal:
		for cmd := range running {
			// nginx's workers are the master's children: a crash of
			// the master alone leaves them serving, so a SIGKILL goes
			// to them too. The master is stopped first: killed one by
			// one before it, a worker was respawned by it in between
			// (3 of 40 in a shell loop, nginx 1.22 on this machine), an
			// orphan holding the listening sockets, so the restarted
			// nginx could not bind, and it outlived the test. A
			// master seen stopped is in no fork (one under way when
			// the SIGSTOP came has completed) and forks no more, so
			// its children are all listed. (Not a process group of
			// its own, killed at once: a Ctrl-C of go test reaches
			// the test's group, and nginx's workers outlive a master
			// that Pdeathsig killed.)
			if sig == syscall.SIGKILL {
				cmd.Process.Signal(syscall.SIGSTOP)
				for procState(cmd.Process.Pid) != "T" {
					select {
					case <-running[cmd]:
						continue signal // it exited (an old HAProxy done)
					case <-deadline:
						t.Fatalf("%s not stopped %v after SIGSTOP\n%s", name, defaultTestTimeout, p.log.tail())
					case <-time.After(20 * time.Millisecond):
					}
				}
				for _, child := range procChildren(cmd.Process.Pid) {
					syscall.Kill(child, sig)
					workers = append(workers, child)
				}
			}
			cmd.Process.Signal(sig)
		}
		for _, ch := range running {
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("%s did not exit within %v of %v\n%s", name, defaultTestTimeout, sig, p.log.tail())
			}
		}
		// Orphaned workers go to init; a zombie (here until init waits
		// for it) has closed its sockets (procAlive).
		for _, pid := range workers {
			for procAlive(pid) {
				select {
				case <-deadline:
					t.Fatalf("%s: worker %d alive %v after %v", name, pid, defaultTestTimeout, sig)
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		_, again := startProc(argv)
		waitListening(t, p, again, func() error { procsMu.Lock(); defer procsMu.Unlock(); return waitErr })
	}
	p.reload = func(t *testing.T) {
		procsMu.Lock()
		last := procs[len(procs)-1]
		lastExited := exits[last]
		procsMu.Unlock()
		switch {
		case name == "nginx":
			last.Process.Signal(syscall.SIGHUP)
		case sf:
			// The classic reload: a new process told the old one's pid.
			// Over when the old process has exited: it stops listening
			// once the new one has bound every listener, and exits when
			// its connections have ended (or when it crashed).
			_, again := startProc(append(slices.Clip(argv), "-sf", strconv.Itoa(last.Process.Pid)))
			select {
			case <-lastExited:
			case <-again:
				t.Fatalf("haproxy -sf %d exited at start: %v\n%s", last.Process.Pid, func() error { procsMu.Lock(); defer procsMu.Unlock(); return waitErr }(), p.log.tail())
			case <-time.After(defaultTestTimeout):
				t.Fatalf("haproxy: the old process (%d) still runs %v after a reload with -sf\n%s", last.Process.Pid, defaultTestTimeout, p.log.tail())
			}
		default:
			// The master starts a new worker, which takes the listening
			// sockets over, and tells the old one to stop listening
			// and finish its connections, as the packaged reload
			// (systemctl reload: kill -USR2 $MAINPID) does.
			last.Process.Signal(syscall.SIGUSR2)
		}
	}
	waitListening(t, p, exited, func() error { procsMu.Lock(); defer procsMu.Unlock(); return waitErr })
	return p
}

// waitListening dials the proxy's ports until both answer: neither proxy
// says when it listens. exited closes if the proxy exits first, with the
// error waitErr returns.
func waitListening(t *testing.T, p *proxy, exited chan struct{}, waitErr func() error) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	// Not the route port: each proxy binds every listener of its
	// configuration before it accepts on any (nginx's master before it
	// starts the workers; HAProxy at start, or it exits), and a dial
	// through it reaches a replica as a job of the route's pipeline,
	// which the tests counting outcomes would see.
	for _, a := range []string{p.grpc, p.tcp} {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("%s exited at start: %v\n%s", p.name, waitErr(), p.log.tail())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not listening on %s after %v\n%s", p.name, a, defaultTestTimeout, p.log.tail())
			}
		}
	}
}

// procChildren lists pid's child processes (Linux: /proc/PID/task/*/children).
func procChildren(pid int) []int {
	var kids []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(w); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// procAlive says whether pid is a process that has not exited (a zombie
// has: it waits only for its parent's wait).
func procAlive(pid int) bool {
	s := procState(pid)
	return s != "" && s != "Z"
}

// procState is pid's state letter in /proc/PID/stat (R, S, T stopped,
// Z zombie, ...), or "" for no such process.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cli runs bin/halfclose through addr with stdin from the file in.
func cli(t testing.TB, addr, in string, args ...string) result {
	t.Helper()
	return run(t, "", in, append([]string{bin(t, "halfclose"), "--addr", addr}, args...)...)
}

// ncCommand sends "pipeline\n" and the file to addr with nc -N.
func ncCommand(t testing.TB, addr, pipeline, in string) result {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	return run(t, "", "", "sh", "-c", `(printf '%s\n' "$1"; cat "$2") | nc -N "$3" "$4"`, "sh", pipeline, in, host, port)
}

// grpcurlDigestFile runs Digest through grpcurl over the whole file, in
// 1 MiB data messages (written to a request file, so memory stays
// bounded), and returns algorithm → hex.
func grpcurlDigestFile(t testing.TB, addr, path string, algos []string) map[string]string {
	t.Helper()
	req := filepath.Join(t.TempDir(), "req.json")
	out, err := os.Create(req)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.Encode(map[string]any{"header": map[string]any{"algorithms": algos}})
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			enc.Encode(map[string]any{"data": base64.StdEncoding.EncodeToString(buf[:n])})
		}
		if err != nil {
			break
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	r := run(t, "", req, bin(t, "grpcurl"), "-plaintext", "-d", "@", addr, "halfclose.v1.ComputeService/Digest")
	if r.code != 0 {
		t.Fatalf("grpcurl Digest of %s through %s: exit %d: %s", filepath.Base(path), addr, r.code, r.stderr)
	}
	var resp struct {
		Digests []struct{ Algorithm, Hex string }
	}
	if err := json.Unmarshal(r.stdout, &resp); err != nil {
		t.Fatalf("grpcurl output: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, d := range resp.Digests {
		got[d.Algorithm] = d.Hex
	}
	return got
}

// stubDigestFile is grpcurlDigestFile with the generated grpc-go stub: the
// file in 1 MiB data messages, then CloseSend.
func stubDigestFile(t testing.TB, addr, path string, algos []string) map[string]string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	stream, err := apiv1.NewComputeServiceClient(conn).Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hdr apiv1.DigestHeader
	for _, a := range algos {
		hdr.Algorithms = append(hdr.Algorithms, apiv1.Algorithm(apiv1.Algorithm_value[a]))
	}
	if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &hdr}}); err != nil {
		t.Fatalf("Digest through %s: %v", addr, err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for {
		buf := make([]byte, 1<<20) // not reused: Send may keep it until written
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: buf[:n]}}); err != nil {
				break // the error comes with CloseAndRecv
			}
		}
		if rerr != nil {
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("Digest of %s through %s: %v", filepath.Base(path), addr, err)
	}
	got := map[string]string{}
	for _, d := range resp.GetDigests() {
		got[d.GetAlgorithm().String()] = d.GetHex()
	}
	return got
}

// checkPaths: every path through the proxy gives what the GNU tools give.
// gRPC Digest (grpcurl) up to 64 MiB in; Run (the CLI) with 32 MiB out;
// nc -N through the L4 port, 64 MiB in and 32 MiB out; health and
// reflection through the L7 port.
func (f *fleet) checkPaths(t *testing.T, p *proxy) {
	big := randomFile(t, 64<<20)
	out32 := randomFile(t, 24<<20) // base64 of 24 MiB is 32 MiB (and newlines)
	algos := map[string][]string{"ALGORITHM_SHA256": {"sha256sum"}, "ALGORITHM_MD5": {"md5sum"}, "ALGORITHM_BLAKE3": {"b3sum"}}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range algos {
			if !yield(k) {
				return
			}
		}
	})
	start := time.Now()
	step := func(what string) { t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond)) }
	// Digest: grpcurl (its JSON costs ~10 s per 64 MiB on this machine, so
	// it has the small sizes) and a plain grpc-go stub for 64 MiB.
	for _, n := range []int{0, 1<<20 + 1, 64 << 20} {
		in := randomFile(t, n)
		var got map[string]string
		if n < 64<<20 {
			got = grpcurlDigestFile(t, p.grpc, in, names)
		} else {
			got = stubDigestFile(t, p.grpc, in, names)
		}
		for _, a := range names {
			if want := oracleHex(t, in, algos[a]); got[a] != want {
				t.Errorf("Digest %s of %s bytes through %s: %q, want %q", a, sizeName(n), p.name, got[a], want)
			}
		}
	}
	step("Digest 0, 1 MiB+1, 64 MiB")

	// Run: the CLI's FILE form and stdin form, 64 MiB in.
	want := run(t, "", "", "sha256sum", big).stdout
	if r := cli(t, p.grpc, "", "sha256sum", big); r.code != 0 || !bytes.Equal(r.stdout, want) {
		t.Errorf("halfclose sha256sum 64MiB through %s: exit %d, %s\n%s", p.name, r.code, r.stderr, diff(r.stdout, want))
	}
	step("Run sha256sum 64 MiB")
	// Run with 32 MiB out.
	want = gnu(t, out32, "base64")
	if r := cli(t, p.grpc, out32, "base64"); r.code != 0 || !bytes.Equal(r.stdout, want) {
		t.Errorf("halfclose base64 (%d bytes out) through %s: exit %d, %s\n%s", len(want), p.name, r.code, r.stderr, diff(r.stdout, want))
	}
	step("Run base64, 32 MiB out")
	// The raw-TCP command port through the L4 proxy.
	for _, c := range []struct {
		pipeline, in string
	}{{"sha256sum", big}, {"base64", out32}, {"wc -c", randomFile(t, 0)}} {
		want := gnu(t, c.in, strings.Fields(c.pipeline)...)
		r := ncCommand(t, p.tcp, c.pipeline, c.in)
		if r.code != 0 || !bytes.Equal(r.stdout, want) {
			t.Errorf("nc -N %q through %s L4: exit %d, %s\n%s", c.pipeline, p.name, r.code, r.stderr, diff(r.stdout, want))
		}
	}
	step("nc -N")
	// The route port (HC_ROUTE_LISTEN): no header, the whole stream is
	// fleetRoute's input, as `nc -N host 7001 < file` sends it.
	// (The empty input: checkEmptyInput, below.)
	for _, n := range []int{1<<20 + 1, 64 << 20} {
		in := big
		if n != 64<<20 {
			in = randomFile(t, n)
		}
		want := gnu(t, in, fleetRoute)
		if r := run(t, "", in, ncArgv(t, p.route)...); r.code != 0 || !bytes.Equal(r.stdout, want) {
			t.Errorf("nc -N route port (%s) with %s bytes through %s: exit %d, %s\n%s", fleetRoute, sizeName(n), p.name, r.code, r.stderr, diff(r.stdout, want))
		}
	}
	step("nc -N route port 1 MiB+1, 64 MiB")
	f.checkEmptyInput(t, p)
	step("nc -N empty input")
	// Health and reflection (grpcurl needs no proto files through it).
	if r := run(t, "", "", bin(t, "grpcurl"), "-plaintext", p.grpc, "grpc.health.v1.Health/Check"); r.code != 0 || !bytes.Contains(r.stdout, []byte(`"SERVING"`)) {
		t.Errorf("health through %s: exit %d %s %s", p.name, r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", "", bin(t, "grpcurl"), "-plaintext", p.grpc, "list"); r.code != 0 || !bytes.Contains(r.stdout, []byte("halfclose.v1.ComputeService")) {
		t.Errorf("reflection through %s: exit %d %s %s", p.name, r.code, r.stdout, r.stderr)
	}
}

// emptyInputTries is how many times checkEmptyInput sends an empty input
// to each TCP port: HAProxy without note_empty_input lost 3% to 44% of
// them (halfclose.lua; the least, 10 of 300 on the route port, leaves
// 100 tries lossless 4% of the time, and the command port's 38 of 300
// never), so 100 tries on both ports show that loss nearly every run.
const emptyInputTries = 100

// haproxyEmptyInputRoute is deploy/haproxy/halfclose.lua's line for an
// empty input on a route port (empty_input_lines.route), quoted as
// docs/deploy.md quotes it: what a client reads.
const haproxyEmptyInputRoute = "halfclose: error: UNIMPLEMENTED: haproxy: an empty input cannot reach a replica through HAProxy (mode tcp drops a connection that ends before its first byte); send it through nginx, or to the command port\n"

// checkEmptyInput: a client that closes its sending side before its
// first byte (`nc -N host port < /dev/null`), emptyInputTries times on
// the command port and on the route port, gets the same answer every
// time. On the command port it is the replica's own (no header line);
// on the route port, through nginx, the route's result as the replica
// gives it; through HAProxy, which cannot pass an empty input on (it
// resets the replica's connection whenever it reads the FIN before that
// connection is up, and closes the client's with nothing written),
// halfclose.lua's line saying so (docs/deploy.md, "An empty input through
// HAProxy"). Never an empty reply.
func (f *fleet) checkEmptyInput(t *testing.T, p *proxy) {
	empty := randomFile(t, 0)
	wantCommand := f.emptyCommandLine(t, empty)
	wantRoute := gnu(t, empty, fleetRoute)
	if p.name == "haproxy" {
		wantRoute = []byte(haproxyEmptyInputRoute)
	}
	for _, c := range []struct {
		port, addr string
		want       []byte
	}{
		{"command", p.tcp, wantCommand},
		{"route", p.route, wantRoute},
	} {
		got := map[string]int{}
		for range emptyInputTries {
			r := run(t, "", empty, ncArgv(t, c.addr)...)
			got[fmt.Sprintf("exit %d, %q", r.code, r.stdout)]++
		}
		want := fmt.Sprintf("exit 0, %q", c.want)
		if got[want] != emptyInputTries {
			t.Errorf("nc -N < /dev/null %d times to the %s port through %s: %v; want %s every time", emptyInputTries, c.port, p.name, got, want)
		}
	}
}

// emptyCommandLine is a replica's own answer to an empty input (empty,
// a file of no bytes) on its command port, read directly: its error
// line for a connection without a header.
func (f *fleet) emptyCommandLine(t *testing.T, empty string) []byte {
	t.Helper()
	r := run(t, "", empty, ncArgv(t, f.replicas[0].tcp)...)
	if r.code != 0 || !bytes.HasPrefix(r.stdout, []byte("halfclose: error: INVALID_ARGUMENT: ")) {
		t.Fatalf("nc -N < /dev/null to a replica's command port: exit %d, %q %s; want its error line", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// replaceOnce replaces the one occurrence of old in cfg, and fails the test
// when there is not exactly one (the shipped configuration changed).
func replaceOnce(t *testing.T, cfg, old, new string) string {
	t.Helper()
	if n := strings.Count(cfg, old); n != 1 {
		t.Fatalf("the configuration has %d occurrences of %q, want 1", n, old)
	}
	return strings.Replace(cfg, old, new, 1)
}

// checkTraps: each line docs/deploy.md calls a trap is needed. The proxy
// runs with the line undone, and the symptom the docs give is checked; the
// shipped configuration (checkPaths) does not have it.
func (f *fleet) checkTraps(t *testing.T, name string) {
	in := randomFile(t, 2<<20) // over nginx's default client_max_body_size
	switch name {
	case "nginx":
		t.Run("client_max_body_size", func(t *testing.T) {
			p := f.startProxy(t, name, func(t *testing.T, cfg string) string {
				return replaceOnce(t, cfg, "client_max_body_size 0;", "")
			})
			r := cli(t, p.grpc, in, "sha256sum")
			// nginx's 413, answered by @grpc_too_large (HTML and UNKNOWN
			// without it: TestFleetNginxStatus).
			if want := "RESOURCE_EXHAUSTED: " + nginxTooLarge; r.code == 0 || !bytes.Contains(r.stderr, []byte(want)) {
				t.Errorf("default client_max_body_size, 2 MiB upload: exit %d, stderr %q; want an error, %s", r.code, r.stderr, want)
			}
		})
		t.Run("proxy_half_close", func(t *testing.T) {
			// Both stream servers have it: the command port's and the
			// route port's.
			p := f.startProxy(t, name, func(t *testing.T, cfg string) string {
				if n := strings.Count(cfg, "proxy_half_close on;"); n != 2 {
					t.Fatalf("nginx.conf.template: %d lines proxy_half_close on, want 2 (the command port, the route port)", n)
				}
				return strings.ReplaceAll(cfg, "proxy_half_close on;", "")
			})
			r := ncCommand(t, p.tcp, "sha256sum", in)
			if len(r.stdout) != 0 {
				t.Errorf("without proxy_half_close: reply %q (exit %d), want the empty reply docs/deploy.md describes", r.stdout, r.code)
			}
			r = run(t, "", in, ncArgv(t, p.route)...)
			if len(r.stdout) != 0 {
				t.Errorf("without proxy_half_close, the route port: reply %q (exit %d), want the empty reply docs/deploy.md describes", r.stdout, r.code)
			}
		})
	case "haproxy":
		t.Run("nolinger", func(t *testing.T) {
			p := f.startProxy(t, name, func(t *testing.T, cfg string) string {
				return replaceOnce(t, cfg, "    option redispatch 1\n", "    option redispatch 1\n    option nolinger\n")
			})
			r := ncCommand(t, p.tcp, "sha256sum", in)
			if len(r.stdout) != 0 {
				t.Errorf("with option nolinger: reply %q (exit %d), want the empty reply docs/deploy.md describes", r.stdout, r.code)
			}
			r = run(t, "", in, ncArgv(t, p.route)...)
			if len(r.stdout) != 0 {
				t.Errorf("with option nolinger, the route port: reply %q (exit %d), want the empty reply docs/deploy.md describes", r.stdout, r.code)
			}
		})
		t.Run("check-proto", func(t *testing.T) {
			p := f.startProxy(t, name, func(t *testing.T, cfg string) string {
				for i := 1; i <= 3; i++ {
					cfg = replaceOnce(t, cfg, fmt.Sprintf(`"${HC_R%d_GRPC}" proto h2 check check-proto h1`, i), fmt.Sprintf(`"${HC_R%d_GRPC}" proto h2 check`, i))
				}
				return cfg
			})
			// Every replica fails its h2 check and goes DOWN (fall 2):
			// wait for HAProxy to say so, then a call gets its 503. No
			// replica passed its last check, so halfclose.lua sends none
			// to the replicas without checks (unchecked_grpc): broken
			// checks fail every call, loudly, as they did before it.
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			if err := p.log.waitText(ctx, "backend halfclose_grpc has no server available"); err != nil {
				t.Fatalf("HAProxy without check-proto h1: %v\n%s", err, p.log.tail())
			}
			// The CLI retries UNAVAILABLE while its first 192 KiB are in
			// gRPC's retry buffer; when every attempt meets the 503 while
			// sending, grpc-go's retries give "EOF" with no status, which
			// the client names (lostStatus): either message is the trap's.
			r := cli(t, p.grpc, in, "sha256sum")
			if r.code == 0 || !bytes.Contains(r.stderr, []byte("503")) && !bytes.Contains(r.stderr, []byte("every attempt was ended by the server while sending")) {
				t.Errorf("without check-proto h1: exit %d, stderr %q; want an error naming HTTP 503, or the attempts ended while sending", r.code, r.stderr)
			}
		})
	}
}

// watch starts looking for lines that contain s, for waitWatched: unlike
// waitText, it sees only lines written from now on, however many lines
// come after them.
func (l *eventLog) watch(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watched == nil {
		l.watched = map[string]string{}
	}
	l.watched[s] = ""
}

// waitWatched waits for a line containing s written since watch(s), and
// returns the last such line.
func (l *eventLog) waitWatched(ctx context.Context, s string) (string, error) {
	for {
		l.mu.Lock()
		line, ok := l.watched[s]
		ch := l.changed
		l.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("%q is not watched", s)
		}
		if line != "" {
			return line, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", fmt.Errorf("no %q in the log since it was watched: %w", s, ctx.Err())
		}
	}
}

// waitText waits for a line containing s.
func (l *eventLog) waitText(ctx context.Context, s string) error {
	for {
		l.mu.Lock()
		found := slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, s) })
		ch := l.changed
		l.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("no %q in the log: %w", s, ctx.Err())
		}
	}
}

// loadStats counts what the load loops saw. Every field is only added to.
type loadStats struct {
	ghzCalls, ghzFailed, ghzDataLoss         atomic.Int64
	cliOK, cliFailed, cliWrong               atomic.Int64
	tcpOK, tcpVisibleErr, tcpEmpty, tcpWrong atomic.Int64
	// The route port's loop (HC_ROUTE_LISTEN), classed as tcp's.
	routeOK, routeVisibleErr, routeEmpty, routeWrong atomic.Int64

	mu     sync.Mutex     // protects errors
	errors map[string]int // failure message → count, for the report
}

func (s *loadStats) note(msg string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errors == nil {
		s.errors = map[string]int{}
	}
	s.errors[msg] += n
}

func (s *loadStats) failedCalls() int64 { return s.ghzFailed.Load() + s.cliFailed.Load() }

func (s *loadStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []string
	for _, m := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.errors {
			if !yield(k) {
				return
			}
		}
	}) {
		errs = append(errs, fmt.Sprintf("%d× %s", s.errors[m], m))
	}
	return fmt.Sprintf("ghz %d calls, %d failed (%d DATA_LOSS); cli %d ok, %d failed, %d wrong; tcp %d ok, %d visible errors, %d empty replies, %d wrong; route %d ok, %d visible errors, %d empty replies, %d wrong\n  %s",
		s.ghzCalls.Load(), s.ghzFailed.Load(), s.ghzDataLoss.Load(),
		s.cliOK.Load(), s.cliFailed.Load(), s.cliWrong.Load(),
		s.tcpOK.Load(), s.tcpVisibleErr.Load(), s.tcpEmpty.Load(), s.tcpWrong.Load(),
		s.routeOK.Load(), s.routeVisibleErr.Load(), s.routeEmpty.Load(), s.routeWrong.Load(),
		strings.Join(errs, "\n  "))
}

// rollingRestart loads the proxy with ghz (Digest calls whose header
// declares the size and digest, so the server itself checks every one), a
// CLI loop, a raw-TCP loop and a route-port loop that check every result
// against GNU, and
// meanwhile SIGTERMs and restarts each replica in turn, waiting each time
// until the restarted replica serves gRPC and TCP jobs through the proxy
// again. No call is cut by the test: the loops stop between calls.
//
// hurried sends each replica a second SIGTERM once its drain has begun
// (docs/operations.md, "Shutdown"): its running jobs are cut, so calls
// may fail, but only with a visible error (UNAVAILABLE, an error line, a
// reset), never a wrong result or an empty reply with a clean close.
func (f *fleet) rollingRestart(t *testing.T, p *proxy, knobs fleetKnobs, hurried bool) {
	ghz := bin(t, "ghz")
	small := randomFile(t, 1024)
	mid := randomFile(t, 256<<10)
	smallSHA := oracleHex(t, small, []string{"sha256sum"})
	data := fmt.Sprintf(`[{"header":{"algorithms":["ALGORITHM_SHA256"],"expected_size":1024,"expected_digests":[{"algorithm":"ALGORITHM_SHA256","hex":%q}]}},{"data":%q}]`,
		smallSHA, base64.StdEncoding.EncodeToString(readFile(t, small)))
	cliCases := []struct {
		args  []string
		stdin string
		want  []byte
	}{
		{[]string{"sha256sum", mid}, "", run(t, "", "", "sha256sum", mid).stdout},
		{[]string{"tr a-f A-F | md5sum"}, mid, runPiped(t, "", mid, "sh", "-c", "tr a-f A-F | md5sum").stdout},
	}
	tcpWant := gnu(t, mid, "sha256sum")
	tcpReq := append([]byte("sha256sum\n"), readFile(t, mid)...)
	routeWant := gnu(t, mid, fleetRoute)
	routeReq := readFile(t, mid)

	var stats loadStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	// Each loop reports its first success, so restarts begin under load.
	var started sync.WaitGroup
	started.Add(4)

	// ghz: batches of ghzBatch at knobs.rps, back to back, until stop. A
	// batch is never cut: it runs its -n calls to the end.
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for !stopped() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*defaultTestTimeout)
			out, err := exec.CommandContext(ctx, ghz, "--insecure", "--call", "halfclose.v1.ComputeService.Digest",
				"-d", data, "-n", strconv.Itoa(ghzBatch*knobs.rps), "--rps", strconv.Itoa(knobs.rps), "-c", "8", "--connections", "2",
				"--format", "json", "--disable-template-functions", "--disable-template-data", p.grpc).Output()
			cancel()
			var rep struct {
				Count        int64            `json:"count"`
				StatusCodes  map[string]int64 `json:"statusCodeDistribution"`
				ErrorDistrib map[string]int64 `json:"errorDistribution"`
			}
			if err == nil {
				err = json.Unmarshal(out, &rep)
			}
			if err != nil {
				stats.note("ghz: "+err.Error(), 1)
				stats.ghzFailed.Add(1)
				break
			}
			stats.ghzCalls.Add(rep.Count)
			for code, n := range rep.StatusCodes {
				if code != "OK" {
					stats.ghzFailed.Add(n)
				}
				if code == "DataLoss" {
					stats.ghzDataLoss.Add(n)
				}
			}
			for msg, n := range rep.ErrorDistrib {
				stats.note("ghz: "+msg, int(n))
			}
			if first {
				first = false
				started.Done()
			}
		}
		if first {
			started.Done()
		}
	}()

	// The CLI, one call after another.
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for i := 0; !stopped(); i++ {
			c := cliCases[i%len(cliCases)]
			r, err := runQuiet(c.stdin, append([]string{bin(t, "halfclose"), "--addr", p.grpc}, c.args...)...)
			switch {
			case err != nil:
				stats.cliFailed.Add(1)
				stats.note("cli: "+err.Error(), 1)
			case r.code != 0:
				stats.cliFailed.Add(1)
				stats.note("cli: "+strings.TrimSpace(string(r.stderr)), 1)
			case !bytes.Equal(r.stdout, c.want):
				stats.cliWrong.Add(1)
				stats.note(fmt.Sprintf("cli: WRONG %q: %s", c.args, diff(r.stdout, c.want)), 1)
			default:
				stats.cliOK.Add(1)
				if first {
					first = false
					started.Done()
				}
			}
		}
		if first {
			started.Done()
		}
	}()

	// Raw TCP through the L4 port, and through the route port the same
	// way: a reply is the digest (the route's: fleetRoute's output of the
	// whole stream), an error line, or a reset; a clean close with
	// nothing, or with anything else, is a failure.
	rawLoad := func(name, addr string, req, want []byte, ok, visibleErr, empty, wrong *atomic.Int64) {
		defer wg.Done()
		first := true
		for !stopped() {
			got, err := tcpExchange(addr, req)
			switch {
			case err != nil:
				visibleErr.Add(1)
				stats.note(name+": "+err.Error(), 1)
			case bytes.Equal(got, want):
				ok.Add(1)
				if first {
					first = false
					started.Done()
				}
			case len(got) == 0:
				empty.Add(1)
				stats.note(name+": EMPTY reply, clean close", 1)
			case errorLine.Match(got):
				visibleErr.Add(1)
				stats.note(name+": "+strings.TrimSpace(string(got)), 1)
			default:
				wrong.Add(1)
				stats.note(fmt.Sprintf("%s: WRONG reply %q", name, got), 1)
			}
		}
		if first {
			started.Done()
		}
	}
	wg.Add(2)
	go rawLoad("tcp", p.tcp, tcpReq, tcpWant, &stats.tcpOK, &stats.tcpVisibleErr, &stats.tcpEmpty, &stats.tcpWrong)
	go rawLoad("route", p.route, routeReq, routeWant, &stats.routeOK, &stats.routeVisibleErr, &stats.routeEmpty, &stats.routeWrong)

	stopLoad := func() {
		close(stop)
		wg.Wait()
	}
	startedCh := make(chan struct{})
	go func() { started.Wait(); close(startedCh) }()
	select {
	case <-startedCh:
	case <-time.After(defaultTestTimeout):
	}
	if stats.ghzCalls.Load() == 0 || stats.cliOK.Load() == 0 || stats.tcpOK.Load() == 0 || stats.routeOK.Load() == 0 {
		stopLoad()
		<-startedCh
		t.Fatalf("the load did not start through %s: %v", p.name, &stats)
	}

	for _, r := range f.replicas {
		before := stats.failedCalls()
		old := r.currentLog()
		took := r.stop(t, hurried)
		refused := old.snapshot().unavailable
		r.start(t)
		// Back in rotation: the restarted replica serves a gRPC call and a
		// TCP job that came through the proxy.
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		log := r.currentLog()
		err := log.wait(ctx, nil, func(s *logState) bool { return s.grpcJobs > 0 && s.tcpJobs > 0 })
		cancel()
		if err != nil {
			f.errorf(t, "%s: no gRPC and TCP job through %s after its restart: %v (%+v)\n%s", r.name, p.name, err, log.snapshot(), p.log.tail())
			break
		}
		t.Logf("%s: SIGTERM to exit %v; %d jobs refused by its drain (UNAVAILABLE); %d failed gRPC calls seen so far during its restart (ghz counts at the end of each %d s batch)",
			r.name, took.Round(time.Millisecond), refused, stats.failedCalls()-before, ghzBatch)
	}
	stopLoad()
	<-startedCh

	t.Logf("%s: %v", p.name, &stats)
	if stats.failedCalls() > 0 || stats.tcpEmpty.Load()+stats.routeEmpty.Load() > 0 || stats.tcpVisibleErr.Load()+stats.routeVisibleErr.Load() > 0 {
		t.Logf("%s's last errors and warnings:\n%s", p.name, p.log.complaints())
	}
	if hurried {
		stats.mu.Lock()
		for msg, n := range stats.errors {
			if !strings.Contains(msg, "UNAVAILABLE") && !strings.Contains(msg, "Unavailable") && !strings.Contains(msg, "reset by peer") {
				f.errorf(t, "%d× %q through %s with a second SIGTERM: want UNAVAILABLE (a status, an error line) or a reset", n, msg, p.name)
			}
		}
		stats.mu.Unlock()
	} else if n := stats.failedCalls(); n > int64(knobs.maxFailed) {
		f.errorf(t, "%d failed gRPC calls through %s during the rolling restart (FLEET_MAX_FAILED_CALLS=%d): %v", n, p.name, knobs.maxFailed, &stats)
	}
	if n := stats.ghzDataLoss.Load() + stats.cliWrong.Load() + stats.tcpWrong.Load() + stats.routeWrong.Load(); n > 0 {
		f.errorf(t, "%d wrong results through %s: %v", n, p.name, &stats)
	}
	if n := stats.tcpEmpty.Load(); n > 0 {
		f.errorf(t, "%d raw-TCP jobs through %s ended in an empty reply with a clean close (an empty success): %v", n, p.name, &stats)
	}
	if n := stats.routeEmpty.Load(); n > 0 {
		f.errorf(t, "%d route-port jobs through %s ended in an empty reply with a clean close (an empty success): %v", n, p.name, &stats)
	}
}

// ghzBatch is the seconds of one ghz run of rollingRestart. The restarts
// begin after the first batch (the load is then known to pass), and the
// round ends after the last one, which is never cut: at 5 s a batch, the
// four restarts of a round of TestFleet waited 30 s or so on ghz alone,
// under the whole load. At 2 s, a new ghz process (and its two
// connections) every 600 calls at the default FLEET_RPS.
const ghzBatch = 2

// hcName is a ${HC_...} name envsubst left in place.
// needNginxStream skips t where nginx's stream module (the L4 proxy of
// the raw-TCP ports) is not installed, and fails it under CI.
func needNginxStream(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/etc/nginx/modules-enabled/50-mod-stream.conf"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx's stream module is required in CI (Debian package libnginx-mod-stream): %v", err)
		}
		t.Skipf("nginx's stream module is not installed (libnginx-mod-stream): %v", err)
	}
}

// envsubstHC renders an nginx template as docs/deploy.md says: envsubst
// with the names of env (the HC_* variables); a name env does not set is
// left as it is.
func envsubstHC(t *testing.T, tmpl string, env map[string]string) []byte {
	t.Helper()
	var names []string
	cmdEnv := cleanEnv()
	for k, v := range env {
		names = append(names, "${"+k+"}")
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	cmd := exec.Command("envsubst", strings.Join(names, " "))
	cmd.Env = cmdEnv
	cmd.Stdin = strings.NewReader(tmpl)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("envsubst: %v", err)
	}
	return out
}

var hcName = regexp.MustCompile(`\$\{HC_[A-Z0-9_]+\}`)

// errorLine is the raw-TCP adapter's error reply.
var errorLine = regexp.MustCompile(`^halfclose: error: [A-Z_]+: [^\n]*\n$`)

// tcpExchange sends req, half-closes, and reads the reply to the server's
// FIN. A reset or a timeout is an error.
func tcpExchange(addr string, req []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, defaultTestTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// outcomes sums the replicas' job outcomes so far.
func (f *fleet) outcomes() map[string]int {
	sum := map[string]int{}
	for _, r := range f.replicas {
		for k, v := range r.currentLog().outcomeCounts() {
			sum[k] += v
		}
	}
	return sum
}

// nextOutcome waits until one more job than in before has ended on the
// replicas, and returns its outcome.
func (f *fleet) nextOutcome(t *testing.T, before map[string]int) string {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		now := f.outcomes()
		for k, v := range now {
			if v > before[k] {
				return k
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no job ended on the replicas within %v", defaultTestTimeout)
		}
		time.Sleep(10 * time.Millisecond) // polling the logs, not synchronisation
	}
}

// abortAfter is what an aborting client sends before it aborts: more than
// every buffer between it and a replica holds (the client's and the
// proxy's sockets, the proxy's buffers, gRPC's flow-control windows), so
// that once it has all been written the replica has read part of it and
// its job is running.
const abortAfter = 64 << 20

// checkAborts: clients abort an upload midway, through the proxy, as
// the CLI does on SIGINT (a TCP reset, SO_LINGER 0; a gRPC RST_STREAM).
// Whatever the proxy makes of the abort on its upstream connection (a
// reset, or a clean end: docs/protocol.md, "Proving the end of input"),
// a replica must never count the job
// as ok when the client proved its end (@size, @chunked, require_end):
// it must be an abort. The bare forms (no proof) are logged, to say in
// docs/deploy.md what each proxy turns a client's reset into.
func (f *fleet) checkAborts(t *testing.T, p *proxy) {
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	// A job the client proved the end of must end as an abort; none may
	// count as the server's fault.
	aborted := func(oc string) bool { return oc == "aborted" || oc == "reset" || oc == "canceled" }
	tcp := []struct {
		name, header       string
		chunked, mustAbort bool
	}{
		{"tcp bare", "sha256sum\n", false, false},
		{"tcp @size", fmt.Sprintf("@size=%d @trailer sha256sum\n", 2*abortAfter), false, true},
		{"tcp @chunked", "@chunked @trailer sha256sum\n", true, true},
	}
	for _, c := range tcp {
		before := f.outcomes()
		conn, err := net.Dial("tcp", p.tcp)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(defaultTestTimeout))
		w := bufio.NewWriter(conn)
		w.WriteString(c.header)
		for sent := 0; sent < abortAfter; sent += len(chunk) {
			if c.chunked {
				fmt.Fprintf(w, "%d\n", len(chunk))
			}
			w.Write(chunk)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("%s through %s: %v", c.name, p.name, err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close() // RST, as the CLI aborts
		oc := f.nextOutcome(t, before)
		t.Logf("%s through %s, client reset after %d MiB: replica's job outcome %q", c.name, p.name, abortAfter>>20, oc)
		if oc == "internal" || c.mustAbort && !aborted(oc) {
			t.Errorf("%s through %s, client reset mid-upload: replica's job outcome %q, want an abort", c.name, p.name, oc)
		}
	}

	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := apiv1.NewComputeServiceClient(conn)
	for _, c := range []struct {
		name       string
		requireEnd bool
	}{{"grpc bare", false}, {"grpc require_end", true}} {
		before := f.outcomes()
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		stream, err := api.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: "sha256sum", RequireEnd: c.requireEnd}}}); err != nil {
			t.Fatalf("%s through %s: %v", c.name, p.name, err)
		}
		for sent := 0; sent < abortAfter; sent += len(chunk) {
			if err := stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Data{Data: chunk}}); err != nil {
				t.Fatalf("%s through %s: send: %v", c.name, p.name, err)
			}
		}
		cancel() // RST_STREAM, as the client library and the CLI abort
		oc := f.nextOutcome(t, before)
		t.Logf("%s through %s, call cancelled after %d MiB: replica's job outcome %q", c.name, p.name, abortAfter>>20, oc)
		if oc == "internal" || c.requireEnd && !aborted(oc) {
			t.Errorf("%s through %s, call cancelled mid-upload: replica's job outcome %q, want an abort", c.name, p.name, oc)
		}
	}
}
