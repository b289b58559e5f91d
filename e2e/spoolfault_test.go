package e2e

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpoolDirRemoved: a --spool-dir removed under the running server,
// with real clients: `nc -N` on a route and the command port gets the
// error line, the halfclose CLI and grpcurl UNAVAILABLE, each naming the
// spool and never its directory; /readyz says 503, and gRPC health
// NOT_SERVING to grpcurl (it said SERVING); once the directory is back,
// /readyz says 200, gRPC health SERVING, and the same jobs print what
// GNU prints. (They got INTERNAL "internal error", and /readyz stayed
// 200.)
func TestSpoolDirRemoved(t *testing.T) {
	t.Parallel()
	need(t, "nc")
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := launch(t, "--spool-dir", dir, "--spool-mem", "64KiB", "--log-flush", "0", "--tcp-route", "127.0.0.1:0=tac")
	var health string
	for _, rec := range d.log.records() {
		if rec["msg"] == "health listening" {
			health, _ = rec["addr"].(string)
		}
	}
	readyz := func() int {
		t.Helper()
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var lines bytes.Buffer
	for i := 0; lines.Len() < 1<<20; i++ {
		lines.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%70) + "\n")
	}
	in := writeFile(t, t.TempDir(), "in", lines.Bytes())
	host, port, _ := net.SplitHostPort(d.TCP)
	nc := need(t, "nc")
	cmdPort := func(pipeline string) result {
		return run(t, "", "", "sh", "-c", `(printf '%s\n' "$1"; cat "$2") | "$3" -N "$4" "$5"`, "sh", pipeline, in, nc, host, port)
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz at the start: %d", code)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	const msg = "spool: spill files cannot be written on this server"
	line := "halfclose: error: UNAVAILABLE: " + msg + "\n"
	if got := run(t, "", in, ncArgv(t, d.Routes["tac"])...); string(got.stdout) != line {
		t.Errorf("nc -N on the route: %q", got.stdout)
	}
	if got := cmdPort("sort"); string(got.stdout) != line {
		t.Errorf("nc -N on the command port: %q", got.stdout)
	}
	got := run(t, "", in, bin(t, "halfclose"), "--addr", d.GRPC, "tac")
	if got.code == 0 || len(got.stdout) != 0 || !strings.Contains(string(got.stderr), "UNAVAILABLE: "+msg) || strings.Contains(string(got.stderr), dir) {
		t.Errorf("halfclose tac: exit %d, stdout %d bytes, stderr %q", got.code, len(got.stdout), got.stderr)
	}
	got = grpcurl(t, d.GRPC, "halfclose.v1.ComputeService/Run", []any{
		map[string]any{"header": map[string]any{"pipeline": "sort"}},
		map[string]any{"text": lines.String()},
	})
	if got.code == 0 || !strings.Contains(string(got.stderr), "Code: Unavailable") || !strings.Contains(string(got.stderr), msg) || strings.Contains(string(got.stdout), "summary") {
		t.Errorf("grpcurl: exit %d, stdout %.200q, stderr %q", got.code, got.stdout, got.stderr)
	}
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the spool dir removed: %d", code)
	}
	grpcHealth := func(want string) {
		t.Helper()
		for _, svc := range []string{"", "halfclose.v1.ComputeService"} {
			r := grpcurl(t, d.GRPC, "grpc.health.v1.Health/Check", []any{map[string]any{"service": svc}})
			if vs := jsonStream(t, r.stdout); r.code != 0 || len(vs) != 1 || vs[0]["status"] != want {
				t.Errorf("grpcurl Health/Check %q: exit %d, %s %s; want %s", svc, r.code, r.stdout, r.stderr, want)
			}
		}
	}
	grpcHealth("NOT_SERVING")

	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if code := readyz(); code != http.StatusOK {
		t.Errorf("/readyz with the spool dir back: %d", code)
	}
	grpcHealth("SERVING")
	if got, want := run(t, "", in, ncArgv(t, d.Routes["tac"])...), gnu(t, in, "timeout", "10", "tac"); !bytes.Equal(got.stdout, want) {
		t.Errorf("nc -N tac, the spool back: %s", diff(got.stdout, want))
	}
	if got, want := cmdPort("sort"), gnu(t, in, "timeout", "10", "sort"); !bytes.Equal(got.stdout, want) {
		t.Errorf("nc -N sort, the spool back: %s", diff(got.stdout, want))
	}
	if got, want := run(t, "", in, bin(t, "halfclose"), "--addr", d.GRPC, "tac"), gnu(t, in, "timeout", "10", "tac"); got.code != 0 || !bytes.Equal(got.stdout, want) {
		t.Errorf("halfclose tac, the spool back: exit %d, %s", got.code, diff(got.stdout, want))
	}
}
