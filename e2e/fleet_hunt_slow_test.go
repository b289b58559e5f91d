//go:build fleet && linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// slowPiece is what each slow uploader sends every slowGap.
var slowPiece = func() []byte {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte((i*7 + 3) % 251)
	}
	return b
}()

const (
	slowPieces = 20
	slowGap    = 100 * time.Millisecond
)

// slowWant is the SHA-256 of the whole slow upload.
var slowWant = func() string {
	h := sha256.New()
	for range slowPieces {
		h.Write(slowPiece)
	}
	return hex.EncodeToString(h.Sum(nil))
}()

// slowGRPC uploads slowly with the grpc-go stub (bare, as grpcurl; or
// with expected_size), and classifies the outcome.
func slowGRPC(addr string, declared bool) (string, string) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return huntErr, err.Error()
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	stream, err := apiv1.NewComputeServiceClient(conn).Digest(ctx)
	if err != nil {
		return huntErr, err.Error()
	}
	hdr := &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}
	if declared {
		n := int64(slowPieces * len(slowPiece))
		hdr.ExpectedSize = &n
	}
	stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: hdr}})
	for range slowPieces {
		if stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: slowPiece}}) != nil {
			break
		}
		time.Sleep(slowGap)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return huntErr, err.Error()
	}
	if got := resp.GetDigests()[0].GetHex(); got != slowWant || resp.GetSize() != int64(slowPieces*len(slowPiece)) {
		return huntWrong, fmt.Sprintf("OK with size %d digest %s", resp.GetSize(), got)
	}
	return huntOK, ""
}

// slowTCP uploads slowly on the raw-TCP port with header, then half-closes
// and reads the reply.
func slowTCP(addr, header string) (string, string) {
	c, err := net.DialTimeout("tcp", addr, defaultTestTimeout)
	if err != nil {
		return huntErr, err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	c.Write([]byte(header))
	for range slowPieces {
		if _, err := c.Write(slowPiece); err != nil {
			break
		}
		time.Sleep(slowGap)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	want := []byte(slowWant + "  -\n")
	trailer := strings.Contains(header, "@trailer")
	if err != nil {
		return huntErr, fmt.Sprintf("%v after %q", err, got)
	}
	if trailer {
		return checkTrailer(want, slowPieces*len(slowPiece))(0, got, nil)
	}
	return checkBare(want)(0, got, nil)
}

// TestFleetHuntSlow: slow uploads (bare ends and proved ones, gRPC and raw
// TCP; grpc-go and Python stubs, the Python and Node example clients and
// the CLI fed by a slow pipe) are under way when the proxy reloads, stops
// (SIGTERM) or crashes (SIGKILL) and starts again, one replica or every
// one is killed, or every one is stopped (a 1 s grace); each then ends its
// upload. A client that succeeds must print the digest of everything it
// sent. HUNT_ROUNDS (default 1) rounds of HUNT_DISRUPTIONS (default
// none,reload,proxystop,proxykill,kill1,kill,term). HAProxy twice: in
// master-worker mode (reloaded with SIGUSR2), and, for the reloads only,
// as one process reloaded the classic way, a new process with -sf OLDPID
// ("haproxy-sf").
func TestFleetHuntSlow(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	for _, tool := range []string{"nginx", "haproxy", "envsubst"} {
		need(t, tool)
	}
	py := exampleClient(t, "python")[0]
	stub := writeFile(t, t.TempDir(), "slow.py", []byte(huntPySlow))
	rounds := envInt(t, "HUNT_ROUNDS", 1, 1)
	var variants []string
	for _, name := range readFleetKnobs(t).proxies {
		variants = append(variants, name)
		if name == "haproxy" && slices.Contains(huntDisruptions(), "reload") {
			variants = append(variants, "haproxy-sf")
		}
	}
	for _, variant := range variants {
		t.Run(variant, func(t *testing.T) {
			// Both proxies at once, each with a fleet of its own: the
			// uploads are slow on purpose (the test waits on them, not on
			// the CPU), and one proxy's disruptions must not meet the
			// other's uploads (its control round above all).
			t.Parallel()
			f := newFleetArgs(t, "1s", "--shutdown-grace", "1s")
			name, disruptions := variant, huntDisruptions()
			var p *proxy
			if variant == "haproxy-sf" {
				// Reloads only: a reload with -sf OLDPID made HAProxy
				// 2.6.12's old process pause an abns@ listener and die
				// of SIGSEGV (docs/deploy.md, "Reloading HAProxy").
				name, disruptions = "haproxy", []string{"reload"}
				p = f.startProxySF(t, nil)
			} else {
				p = f.startProxy(t, name, nil)
			}
			uploaders := map[string]func() (string, string){
				"go stub bare": func() (string, string) { return slowGRPC(p.grpc, false) },
				"go stub size": func() (string, string) { return slowGRPC(p.grpc, true) },
				"tcp bare":     func() (string, string) { return slowTCP(p.tcp, "sha256sum\n") },
				"tcp @trailer": func() (string, string) { return slowTCP(p.tcp, "@trailer sha256sum\n") },
				"tcp @size@trailer": func() (string, string) {
					return slowTCP(p.tcp, fmt.Sprintf("@size=%d @trailer sha256sum\n", slowPieces*len(slowPiece)))
				},
				"python stub bare": func() (string, string) {
					return slowPy(py, stub, filepath.Join(examplesDir(t), "python"), p.grpc, "bare")
				},
				"python stub size": func() (string, string) {
					return slowPy(py, stub, filepath.Join(examplesDir(t), "python"), p.grpc, "size")
				},
			}
			hc := bin(t, "halfclose")
			for kind, argv := range map[string][]string{
				"cli slow stdin":            {hc, "--addr", p.grpc, "sha256sum"},
				"cli run slow stdin":        {hc, "--addr", p.grpc, "head -c 100000000 | sha256sum"},
				"cli --tcp slow stdin":      {hc, "--tcp", "--tcp-addr", p.tcp, "sha256sum"},
				"python example slow stdin": append(exampleClient(t, "python"), "--addr", p.grpc, "digest"),
				"node example slow stdin":   append(exampleClient(t, "node"), "--addr", p.grpc, "digest"),
				"python example run slow":   append(exampleClient(t, "python"), "--addr", p.grpc, "run", "sha256sum"),
				"node example run slow":     append(exampleClient(t, "node"), "--addr", p.grpc, "run", "sha256sum"),
			} {
				uploaders[kind] = func() (string, string) { return slowCmd(argv) }
			}
			var stats huntStats
			for round := range rounds {
				for _, dis := range disruptions {
					var wg sync.WaitGroup
					for kind, up := range uploaders {
						wg.Add(1)
						go func() {
							defer wg.Done()
							class, msg := up()
							stats.add(dis+" "+kind, class, msg)
						}()
					}
					// About a third of each upload sent (pacing: an
					// upload at any other point must end as well).
					time.Sleep(700 * time.Millisecond)
					switch dis {
					case "reload":
						p.reload(t)
					case "proxystop":
						p.restart(t, syscall.SIGTERM)
					case "proxykill":
						p.restart(t, syscall.SIGKILL)
					case "kill1":
						r := f.replicas[round%len(f.replicas)]
						r.kill(t)
						r.start(t)
					case "kill":
						for _, r := range f.replicas {
							r.kill(t)
						}
						for _, r := range f.replicas {
							r.start(t)
						}
					case "term":
						var sw sync.WaitGroup
						for _, r := range f.replicas {
							sw.Add(1)
							go func() { defer sw.Done(); r.stop(t, false) }()
						}
						sw.Wait()
						for _, r := range f.replicas {
							r.start(t)
						}
					}
					wg.Wait()
					// Until the proxy routes again (HAProxy's checks, nginx's fail_timeout).
					deadline := time.Now().Add(defaultTestTimeout)
					for {
						got, err := tcpExchange(p.tcp, []byte("wc -c\nabc"))
						c, gerr := slowReady(p.grpc)
						if err == nil && string(got) == "3\n" && c {
							break
						}
						if time.Now().After(deadline) {
							// The tail is mostly this loop's own probes (nginx's
							// access lines name the upstream and status); the
							// complaints are the proxy's errors and warnings
							// (refused connects, "no live upstreams", checks).
							t.Fatalf("%s not routing again after %s: raw TCP %q, %v; gRPC %v\nthe proxy's last lines:\n%s\nits last errors and warnings:\n%s",
								name, dis, got, err, gerr, p.log.tail(), p.log.complaints())
						}
						time.Sleep(200 * time.Millisecond)
					}
				}
			}
			wrong := 0
			for k, n := range stats.counts {
				t.Logf("  %-45s %d", k, n)
				if strings.HasSuffix(k, "|"+huntWrong) {
					wrong += n
				}
			}
			for k, n := range stats.msgs {
				t.Logf("  %d× %s", n, k)
			}
			if wrong > 0 {
				t.Errorf("%d wrong results through %s", wrong, name)
			}
			// The control: with no disruption every upload succeeds.
			// Else an uploader that cannot run at all fails in every
			// round, and the hunt, which fails only on a wrong result,
			// passes. A reload hands the connections under way to the
			// old processes (docs/deploy.md, "Reloads, stops and
			// crashes"), so every upload succeeds then too, whichever
			// way HAProxy is reloaded: its old process, reloaded with
			// -sf, crashed at each reload and cut them all (10 of 14)
			// while the config had abns@ listeners.
			for _, dis := range []string{"none", "reload"} {
				if !slices.Contains(disruptions, dis) {
					continue
				}
				for kind := range uploaders {
					if n := stats.counts[dis+" "+kind+"|"+huntOK]; n != rounds {
						t.Errorf("%s: %s: %d of %d uploads succeeded", dis, kind, n, rounds)
					}
				}
			}
		})
	}
}

func slowPy(py, stub, dir, addr, mode string) (string, string) {
	cmd := exec.Command(py, stub, dir, addr, mode, strconv.Itoa(slowPieces))
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return huntErr, firstLine(errb.Bytes())
	}
	want := fmt.Sprintf("%s %d\n", slowWant, slowPieces*len(slowPiece))
	if out.String() != want {
		return huntWrong, fmt.Sprintf("exit 0 with %q, want %q", out.String(), want)
	}
	return huntOK, ""
}

// slowReady: a small Digest through addr succeeds.
func slowReady(addr string) (bool, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := apiv1.NewComputeServiceClient(conn).Digest(ctx)
	if err != nil {
		return false, err
	}
	s.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}}})
	_, err = s.CloseAndRecv()
	return err == nil, err
}

func huntDisruptions() []string {
	if v := os.Getenv("HUNT_DISRUPTIONS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"none", "reload", "proxystop", "proxykill", "kill1", "kill", "term"}
}

// slowCmd runs argv with its stdin fed slowly, and wants the SHA-256 line
// of "-" on its stdout.
func slowCmd(argv []string) (string, string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return huntErr, err.Error()
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return huntErr, err.Error()
	}
	for range slowPieces {
		if _, err := in.Write(slowPiece); err != nil {
			break
		}
		time.Sleep(slowGap)
	}
	in.Close()
	err = cmd.Wait()
	if err != nil {
		return huntErr, firstLine(errb.Bytes())
	}
	want := slowWant + "  -\n"
	if out.String() != want {
		return huntWrong, fmt.Sprintf("exit 0 with %q, want %q", out.String(), want)
	}
	return huntOK, ""
}

// huntPySlow is a raw-stub Python client that uploads slowly: a header
// (bare, or with expected_size), then pieces of 4 KiB every 100 ms, then a
// bare half-close; it prints the hex digest and the size it was told.
const huntPySlow = `import sys, time
sys.path.insert(0, sys.argv[1])
import grpc
from halfclose.v1 import compute_pb2 as pb, compute_pb2_grpc as pbg
addr, mode, pieces = sys.argv[2], sys.argv[3], int(sys.argv[4])
data = bytes((i * 7 + 3) % 251 for i in range(4096))
def reqs():
    h = pb.DigestHeader(algorithms=[pb.ALGORITHM_SHA256])
    if mode == "size":
        h.expected_size = 4096 * pieces
    yield pb.DigestRequest(header=h)
    for _ in range(pieces):
        yield pb.DigestRequest(data=data)
        time.sleep(0.1)
try:
    r = pbg.ComputeServiceStub(grpc.insecure_channel(addr)).Digest(reqs())
except grpc.RpcError as e:
    print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
    sys.exit(1)
print(r.digests[0].hex, r.size)
`
