package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/leakcheck"
	"github.com/halfclose/halfclose/internal/syncbuf"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/testpki"
)

// defaultTestTimeout bounds every call and wait of a test, so a hang fails
// the test instead of the whole run.
const defaultTestTimeout = 30 * time.Second

// hangTimeout bounds a wait on the code under test that nothing else
// bounds (testenv.Recv, Within, Until): twice defaultTestTimeout, so that
// the work awaited, whose own calls and deadlines run under
// defaultTestTimeout, fails with its own error first on a slow machine,
// and only a step that would never end reaches this one.
const hangTimeout = 2 * defaultTestTimeout

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// testDaemon is a halfclosed running in-process on 127.0.0.1:0 ports.
type testDaemon struct {
	*daemon
	logs *syncbuf.Buffer
	stop context.CancelFunc // starts the drain, as SIGTERM does
	done chan error         // Run's result
}

// startDaemon starts halfclosed with args after defaults that put every
// listener on 127.0.0.1:0 with metrics and health on; it is drained at
// cleanup.
func startDaemon(t *testing.T, args ...string) *testDaemon {
	t.Helper()
	base := []string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=127.0.0.1:0", "--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--log-format=json", "--log-level=debug"}
	cfg, err := parseConfig(append(base, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addTestCommands(cfg.commands)
	td := &testDaemon{logs: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cfg.logOut = td.logs
	if td.daemon, err = newServer(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	td.stop = cancel
	go func() { td.done <- td.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := td.wait(t); err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", td.logs)
		}
	})
	return td
}

// wait returns Run's result once it has returned.
func (td *testDaemon) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-td.done:
		td.done <- err // for a second wait
		return err
	case <-time.After(defaultTestTimeout):
		t.Fatal("halfclosed did not stop")
		return nil
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// grpcClient dials addr with opts (plaintext unless WithTLS).
func grpcClient(t *testing.T, addr string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn dials addr, plaintext when cfg is nil; the handshake is done.
func rawConn(t *testing.T, addr string, tlsCfg *tls.Config) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: defaultTestTimeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if tlsCfg != nil {
		tc := tls.Client(c, tlsCfg)
		if err := tc.Handshake(); err != nil {
			t.Fatalf("tls handshake: %v", err)
		}
		return tc
	}
	return c
}

// tcpJob sends header and input, half-closes, and returns the whole reply
// and the error that ended reading it (nil for a clean EOF).
func tcpJob(t *testing.T, addr string, tlsCfg *tls.Config, header string, input []byte) (string, error) {
	t.Helper()
	c := rawConn(t, addr, tlsCfg)
	go func() {
		w := bufio.NewWriter(c)
		w.WriteString(header)
		w.Write(input)
		if w.Flush() == nil {
			c.(interface{ CloseWrite() error }).CloseWrite()
		}
	}()
	reply, err := io.ReadAll(c)
	return string(reply), err
}

func sha256Line(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]) + "  -\n"
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// metricValue returns the counter or gauge of name whose labels include
// labels; 0 when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// waitMetric polls /metrics until name{labels} is want.
func waitMetric(t *testing.T, addr, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		got := metricValue(scrape(t, addr), name, labels)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// httpStatus returns the status code of GET path.
func httpStatus(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rawGRPC dials addr for a test's own stubs.
func rawGRPC(t *testing.T, addr string, tlsCfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// testPKI is the shared test PKI (internal/testpki).
type testPKI = testpki.PKI

func newTestPKI(t *testing.T) *testPKI { return testpki.New(t) }

func writeFile(t *testing.T, content string) string {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// errorLine is the raw-TCP adapter's error reply.
func errorLine(code, msg string) string { return "halfclose: error: " + code + ": " + msg + "\n" }

func writeFileB(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
