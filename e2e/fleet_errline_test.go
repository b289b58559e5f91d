//go:build fleet && linux

package e2e

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestFleetErrorLine: `nc -N` through deploy/nginx and deploy/haproxy, as
// shipped, uploading 64 MiB to a replica whose one job slot is taken
// (--max-jobs 1): the job waits --job-wait for a slot while the proxy's
// and the kernels' buffers fill with its input, then the replica answers
// RESOURCE_EXHAUSTED. Every run prints that line and exits 0, nc stopped
// now and then as on a loaded machine (ncUploadStalled). The replica used
// to read 4 MiB after the line, which those buffers held already, and
// close with input unread: the reset reached nc (the proxies pass a
// reset on as one, or as a close behind the line) with the line, and nc
// printed nothing, exit 0, in 10 of 20 runs through nginx and 8 of 20
// through HAProxy. Run by make test-fleet.
func TestFleetErrorLine(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	for _, tool := range []string{"nginx", "haproxy", "nc", "envsubst"} {
		need(t, tool)
	}
	needNginxStream(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	in := randomFile(t, 64<<20)
	const busy = "halfclose: error: RESOURCE_EXHAUSTED: too many jobs: 1 running, limit 1\n"
	for _, name := range []string{"nginx", "haproxy"} {
		t.Run(name, func(t *testing.T) {
			// Both proxies at once, each with a replica of its own (its
			// one slot is held below): nc's stalls are waits, not work.
			t.Parallel()
			addrs := ownAddrs(t, 4)
			r := &replica{name: "r1", grpc: addrs[0], tcp: addrs[1], health: addrs[2], metrics: addrs[3]}
			r.args = []string{"--grpc-addr", r.grpc, "--tcp-addr", r.tcp, "--health-addr", r.health, "--metrics-addr", r.metrics,
				"--log-format", "json", "--log-flush", "0", "--max-jobs-per-peer", "0", "--max-requests-per-peer", "0",
				"--max-jobs", "1", "--job-wait", "200ms"}
			r.start(t)
			t.Cleanup(func() { r.stop(t, false) })
			// One replica, named three times: the shipped configurations name three.
			f := &fleet{
				nginxConf: filepath.Join(root, "deploy/nginx/nginx.conf.template"),
				haCfg:     filepath.Join(root, "deploy/haproxy/haproxy.cfg"),
				replicas:  []*replica{r, r, r},
			}
			p := f.startProxy(t, name, nil)
			// Until the proxy routes to the replica (HAProxy's checks).
			deadline := time.Now().Add(defaultTestTimeout)
			for {
				got, err := tcpExchange(p.tcp, []byte("wc -c\nabc"))
				if err == nil && string(got) == "3\n" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no reply through it after %v: %q, %v", name, defaultTestTimeout, got, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			// The slot's holder: a job that waits for its input. A
			// connection refused for the slot shows it is held.
			holder, err := net.Dial("tcp", r.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Close()
			if _, err := holder.Write([]byte("wc -c\n")); err != nil {
				t.Fatal(err)
			}
			for {
				got, err := tcpExchange(r.tcp, []byte("wc -c\nabc"))
				if err == nil && string(got) == busy {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the holder's job has no slot after %v: %q, %v", defaultTestTimeout, got, err)
				}
			}
			for i := range 10 {
				out, code := ncUploadStalled(t, p.tcp, "wc -c\n", in)
				if code != 0 || string(out) != busy {
					t.Errorf("%s, nc run %d: exit %d, stdout %q; want exit 0 and %q", name, i+1, code, out, busy)
				}
			}
		})
	}
}
