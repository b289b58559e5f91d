//go:build fleet && linux

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// huntCall is one client invocation of the hunt: a command line, its
// stdin, and the check of what it printed.
type huntCall struct {
	kind  string
	argv  []string
	stdin string
	check func(code int, stdout, stderr []byte) (class, msg string)
}

// The classes a call ends in. wrong is the defect the hunt looks for: a
// client that exits 0 with a result that is not GNU's over what it sent.
const (
	huntOK      = "ok"
	huntWrong   = "WRONG"
	huntErr     = "error"      // a non-zero exit, with its message
	huntVisible = "incomplete" // exit 0, but the reply's own proof (trailer) is missing
	huntBare    = "bare-short" // a bare nc/socat reply cut short or empty, exit 0: docs/protocol.md, "What a bare nc can tell"
)

// checkExact: exit 0 must print want.
func checkExact(want []byte) func(int, []byte, []byte) (string, string) {
	return func(code int, out, errb []byte) (string, string) {
		switch {
		case code != 0:
			return huntErr, firstLine(errb)
		case bytes.Equal(out, want):
			return huntOK, ""
		default:
			return huntWrong, fmt.Sprintf("exit 0 with %d bytes, want %d: %s", len(out), len(want), diff(out, want))
		}
	}
}

var trailerLine = regexp.MustCompile(`halfclose: ok out=(\d+) in=(\d+)\n$`)

// checkTrailer: a raw-TCP reply asked with @trailer is whole only with its
// trailer; one with it must be GNU's output.
func checkTrailer(want []byte, inSize int) func(int, []byte, []byte) (string, string) {
	return func(code int, out, errb []byte) (string, string) {
		if code != 0 {
			return huntErr, firstLine(errb)
		}
		if errorLine.Match(out) {
			return huntErr, firstLine(out)
		}
		m := trailerLine.FindSubmatchIndex(out)
		if m == nil {
			return huntVisible, fmt.Sprintf("no trailer after %d bytes", len(out))
		}
		body := out[:m[0]]
		n, _ := strconv.Atoi(string(out[m[2]:m[3]]))
		in, _ := strconv.Atoi(string(out[m[4]:m[5]]))
		if n != len(body) {
			return huntVisible, fmt.Sprintf("trailer says out=%d, %d bytes before it", n, len(body))
		}
		if in != inSize || !bytes.Equal(body, want) {
			return huntWrong, fmt.Sprintf("trailer in=%d (sent %d), body %s", in, inSize, diff(body, want))
		}
		return huntOK, ""
	}
}

// checkBare: a bare raw-TCP reply; a short one cannot be told from a whole
// one by the client (documented), so it is counted apart, but a reply of
// the right length with other bytes is wrong.
func checkBare(want []byte) func(int, []byte, []byte) (string, string) {
	return func(code int, out, errb []byte) (string, string) {
		switch {
		case code != 0:
			return huntErr, firstLine(errb)
		case bytes.Equal(out, want):
			return huntOK, ""
		case errorLine.Match(out):
			return huntErr, firstLine(out)
		case len(out) < len(want) && bytes.HasPrefix(want, out):
			return huntBare, fmt.Sprintf("%d of %d bytes", len(out), len(want))
		default:
			return huntWrong, diff(out, want)
		}
	}
}

// checkGrpcurlDigest: grpcurl's JSON reply must hold GNU's digest.
func checkGrpcurlDigest(wantHex string, size int) func(int, []byte, []byte) (string, string) {
	return func(code int, out, errb []byte) (string, string) {
		if code != 0 {
			return huntErr, firstLine(errb)
		}
		var resp struct {
			Size    string
			Digests []struct{ Hex string }
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Digests) != 1 {
			return huntWrong, fmt.Sprintf("exit 0, reply %q", firstLine(out))
		}
		if resp.Size == "" {
			resp.Size = "0" // proto3 JSON leaves a zero out
		}
		if resp.Digests[0].Hex != wantHex || resp.Size != strconv.Itoa(size) {
			return huntWrong, fmt.Sprintf("size %s digest %s, want %d %s", resp.Size, resp.Digests[0].Hex, size, wantHex)
		}
		return huntOK, ""
	}
}

// huntPyStub is a client of the raw generated Python stubs that proves its
// end with a declared size (expected_size), not End: docs/clients.md.
const huntPyStub = `import sys
sys.path.insert(0, sys.argv[1])
import grpc
from halfclose.v1 import compute_pb2 as pb, compute_pb2_grpc as pbg
addr, path = sys.argv[2], sys.argv[3]
size = __import__("os").path.getsize(path)
def reqs():
    yield pb.DigestRequest(header=pb.DigestHeader(algorithms=[pb.ALGORITHM_SHA256], expected_size=size))
    with open(path, "rb") as f:
        while True:
            b = f.read(256 * 1024)
            if not b:
                return
            yield pb.DigestRequest(data=b)
try:
    r = pbg.ComputeServiceStub(grpc.insecure_channel(addr)).Digest(reqs())
except grpc.RpcError as e:
    print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
    sys.exit(1)
print("%s  %s" % (r.digests[0].hex, path))
`

// huntCalls builds every client call the hunt makes through p.
func (f *fleet) huntCalls(t *testing.T, p *proxy, files []string, pyStub []string) []huntCall {
	host, port, _ := net.SplitHostPort(p.tcp)
	py := exampleClient(t, "python")
	node := exampleClient(t, "node")
	hc := bin(t, "halfclose")
	dir := t.TempDir()
	var calls []huntCall
	for _, in := range files {
		st, err := os.Stat(in)
		if err != nil {
			t.Fatal(err)
		}
		size := int(st.Size())
		sha := run(t, "", "", "sha256sum", in).stdout
		shaStdin := gnu(t, in, "sha256sum")
		big := size > 64<<20
		tag := sizeName(size)
		add := func(kind string, argv []string, stdin string, check func(int, []byte, []byte) (string, string)) {
			calls = append(calls, huntCall{kind: kind + " " + tag, argv: argv, stdin: stdin, check: check})
		}
		add("python digest", append(slices.Clone(py), "--addr", p.grpc, "digest", in), "", checkExact(sha))
		add("node digest", append(slices.Clone(node), "--addr", p.grpc, "digest", in), "", checkExact(sha))
		add("python stub expected_size", append(slices.Clone(pyStub), filepath.Join(examplesDir(t), "python"), p.grpc, in), "", checkExact(sha))
		add("cli sha256sum", []string{hc, "--addr", p.grpc, "sha256sum", in}, "", checkExact(sha))
		add("cli --tcp sha256sum", []string{hc, "--tcp", "--tcp-addr", p.tcp, "sha256sum"}, in, checkExact(shaStdin))
		req := writeHuntRequest(t, dir, fmt.Sprintf("size-%d", size), fmt.Sprintf("@size=%d @trailer sha256sum\n", size), in)
		add("nc @size @trailer sha256sum", []string{"nc", "-N", host, port}, req, checkTrailer(shaStdin, size))
		if !big {
			bare := writeHuntRequest(t, dir, fmt.Sprintf("bare-%d", size), "sha256sum\n", in)
			add("nc bare sha256sum", []string{"nc", "-N", host, port}, bare, checkBare(shaStdin))
			add("socat bare sha256sum", []string{"socat", "-t", "60", "-", "TCP:" + p.tcp}, bare, checkBare(shaStdin))
			add("python run sha256sum", append(slices.Clone(py), "--addr", p.grpc, "run", "sha256sum"), in, checkExact(shaStdin))
			add("node run sha256sum", append(slices.Clone(node), "--addr", p.grpc, "run", "sha256sum"), in, checkExact(shaStdin))
		}
		if size <= 8<<20 {
			jreq := writeGrpcurlRequest(t, dir, size, in)
			add("grpcurl digest bare", []string{bin(t, "grpcurl"), "-plaintext", "-d", "@", p.grpc, "halfclose.v1.ComputeService/Digest"}, jreq,
				checkGrpcurlDigest(strings.Fields(string(sha))[0], size))
		}
		if size > 1<<20 && !big {
			// Large streamed output (base64: 4/3 of the input, and
			// newlines) crossing the disruptions.
			b64 := gnu(t, in, "base64")
			add("python run base64", append(slices.Clone(py), "--addr", p.grpc, "run", "base64"), in, checkExact(b64))
			add("node run base64", append(slices.Clone(node), "--addr", p.grpc, "run", "base64"), in, checkExact(b64))
			add("cli base64", []string{hc, "--addr", p.grpc, "base64"}, in, checkExact(b64))
			add("cli --tcp base64", []string{hc, "--tcp", "--tcp-addr", p.tcp, "base64"}, in, checkExact(b64))
			treq := writeHuntRequest(t, dir, fmt.Sprintf("trailer-b64-%d", size), "@trailer base64\n", in)
			add("nc @trailer base64", []string{"nc", "-N", host, port}, treq, checkTrailer(b64, size))
			add("socat @trailer base64", []string{"socat", "-t", "60", "-", "TCP:" + p.tcp}, treq, checkTrailer(b64, size))
			add("nc bare base64", []string{"nc", "-N", host, port}, writeHuntRequest(t, dir, fmt.Sprintf("bare-b64-%d", size), "base64\n", in), checkBare(b64))
		}
	}
	return calls
}

func writeHuntRequest(t *testing.T, dir, name, header, in string) string {
	t.Helper()
	data := append([]byte(header), readFile(t, in)...)
	return writeFile(t, dir, name, data)
}

func writeGrpcurlRequest(t *testing.T, dir string, size int, in string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(map[string]any{"header": map[string]any{"algorithms": []string{"ALGORITHM_SHA256"}}})
	data := readFile(t, in)
	for len(data) > 0 {
		n := min(len(data), 256<<10)
		enc.Encode(map[string]any{"data": base64.StdEncoding.EncodeToString(data[:n])})
		data = data[n:]
	}
	return writeFile(t, dir, fmt.Sprintf("grpcurl-%d.json", size), b.Bytes())
}

// huntStats counts the calls by kind and class.
type huntStats struct {
	mu     sync.Mutex     // protects counts and msgs
	counts map[string]int // "kind|class" → calls
	msgs   map[string]int // "kind|class|msg" → calls
	// longest is the longest call of each kind, logged: a call over 10 s
	// is slow, not wrong, and CI's load alone can make one so.
	longest map[string]time.Duration
	// stalled counts the calls of each kind runQuiet killed at
	// defaultTestTimeout (errTimedOut), a failure: every disruption ends
	// within seconds (a --shutdown-grace of 1 s, a restart, a reload).
	stalled map[string]int
}

// stall notes a call of kind that runQuiet killed.
func (s *huntStats) stall(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled == nil {
		s.stalled = map[string]int{}
	}
	s.stalled[kind]++
}

// took notes how long a call of kind took.
func (s *huntStats) took(kind string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.longest == nil {
		s.longest = map[string]time.Duration{}
	}
	s.longest[kind] = max(s.longest[kind], d)
}

func (s *huntStats) add(kind, class, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts, s.msgs = map[string]int{}, map[string]int{}
	}
	s.counts[kind+"|"+class]++
	if class != huntOK {
		s.msgs[kind+"|"+class+"|"+msg]++
	}
}

// TestFleetHunt: clients other than Go's (Python grpcio, Node grpc-js,
// grpcurl, nc -N, socat; and the CLI) call through each proxy while its
// replicas are stopped in a hurry (SIGTERM, a short --shutdown-grace),
// killed (SIGKILL) and restarted, and the proxy itself reloads. Every
// result a client printed with exit 0 is compared with GNU's over what it
// sent. Knobs: HUNT_SECONDS (default 30) per proxy, HUNT_WORKERS (4)
// calls at once, HUNT_BIG=1 adds a 128 MiB input, HUNT_KINDS (a regexp)
// picks the clients, HUNT_ACTIONS the disruptions (term,kill,reload).
func TestFleetHunt(t *testing.T) {
	for _, tool := range []string{"nginx", "haproxy", "nc", "envsubst", "socat"} {
		need(t, tool)
	}
	secs := envInt(t, "HUNT_SECONDS", 30, 1)
	workers := envInt(t, "HUNT_WORKERS", 4, 1)
	kinds := []string{"term", "kill", "reload"}
	if v := os.Getenv("HUNT_ACTIONS"); v != "" {
		kinds = strings.Split(v, ",")
	}
	f := newFleetArgs(t, "1s", "--shutdown-grace", "1s")
	pyStub := writeFile(t, t.TempDir(), "stub.py", []byte(huntPyStub))
	py := exampleClient(t, "python")[0]
	files := []string{randomFile(t, 200<<10), randomFile(t, 8<<20), randomFile(t, 24<<20)}
	if os.Getenv("HUNT_BIG") != "" {
		files = append(files, randomFile(t, 128<<20))
	}
	for _, name := range readFleetKnobs(t).proxies {
		t.Run(name, func(t *testing.T) {
			p := f.startProxy(t, name, nil)
			calls := f.huntCalls(t, p, files, []string{py, pyStub})
			if v := os.Getenv("HUNT_KINDS"); v != "" {
				re, err := regexp.Compile(v)
				if err != nil {
					t.Fatalf("HUNT_KINDS: %v", err)
				}
				all := calls
				calls = slices.DeleteFunc(slices.Clone(calls), func(c huntCall) bool { return !re.MatchString(c.kind) })
				if len(calls) == 0 {
					var kinds []string
					for _, c := range all {
						kinds = append(kinds, c.kind)
					}
					t.Fatalf("HUNT_KINDS %q matches no call; the kinds: %q", v, kinds)
				}
			}
			// The control: each client's call on the smallest input, with
			// no disruption, must succeed. Else a client that cannot run
			// at all (a missing module, a broken stub) fails every call
			// of the hunt, and the hunt, which fails only on a wrong
			// result, passes.
			for _, c := range calls {
				if !strings.HasSuffix(c.kind, " "+sizeName(200<<10)) {
					continue
				}
				r, err := runQuiet(c.stdin, c.argv...)
				if err != nil {
					t.Errorf("control, no disruption: %s: %v", c.kind, err)
				} else if class, msg := c.check(r.code, r.stdout, r.stderr); class != huntOK {
					t.Errorf("control, no disruption: %s: %s %s", c.kind, class, msg)
				}
			}
			var stats huntStats
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					for {
						select {
						case <-stop:
							return
						default:
						}
						c := calls[rng.IntN(len(calls))]
						began := time.Now()
						r, err := runQuiet(c.stdin, c.argv...)
						stats.took(c.kind, time.Since(began))
						if errors.Is(err, errTimedOut) {
							stats.stall(c.kind)
						}
						if err != nil {
							stats.add(c.kind, huntErr, err.Error())
							continue
						}
						class, msg := c.check(r.code, r.stdout, r.stderr)
						stats.add(c.kind, class, msg)
					}
				}()
			}
			end := time.Now().Add(time.Duration(secs) * time.Second)
			var actions []string
			for i := 0; time.Now().Before(end); i++ {
				// Pacing, not synchronisation: whatever each call is doing
				// when the next disruption lands, its result must be GNU's
				// or an error.
				time.Sleep(1500 * time.Millisecond)
				// Each replica meets each kind of disruption in turn.
				r := f.replicas[(i/len(kinds))%len(f.replicas)]
				switch kind := kinds[i%len(kinds)]; kind {
				case "term":
					r.stop(t, false)
					r.start(t)
				case "kill":
					r.kill(t)
					r.start(t)
				case "reload":
					p.reload(t)
				default:
					t.Fatalf("HUNT_ACTIONS: unknown %q (term, kill, reload)", kind)
				}
				actions = append(actions, kinds[i%len(kinds)])
			}
			close(stop)
			wg.Wait()
			counts := map[string]int{}
			for _, a := range actions {
				counts[strings.Fields(a)[0]]++
			}
			t.Logf("%s: disruptions %v", name, counts)
			total, wrong := 0, 0
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range stats.counts {
					if !yield(k) {
						return
					}
				}
			}) {
				total += stats.counts[k]
				if strings.HasSuffix(k, "|"+huntWrong) {
					wrong += stats.counts[k]
				}
				t.Logf("  %-45s %d", k, stats.counts[k])
			}
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range stats.msgs {
					if !yield(k) {
						return
					}
				}
			}) {
				t.Logf("  %d× %s", stats.msgs[k], k)
			}
			var slowest []string
			for k, d := range stats.longest {
				if d > 10*time.Second {
					slowest = append(slowest, fmt.Sprintf("%s %v", k, d.Round(time.Second)))
				}
			}
			slices.Sort(slowest)
			t.Logf("%s: %d calls, %d wrong; calls longer than 10 s: %v", name, total, wrong, slowest)
			if wrong > 0 {
				t.Errorf("%d wrong results through %s", wrong, name)
			}
			if len(stats.stalled) > 0 {
				// The raw Python stub (no deadline) hung through nginx
				// when nginx answered its upload with an HTML 502:
				// grpcio lost the call (TestFleetNginxStatus). The
				// error_page of deploy/nginx answers with a gRPC status.
				t.Errorf("calls through %s stalled, killed after %v: %v", name, defaultTestTimeout, stats.stalled)
			}
		})
	}
}
