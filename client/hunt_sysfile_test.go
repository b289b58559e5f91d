package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// sysFile returns a file of a pseudo file system whose size is not its
// data (the attributes of /sys say 4096 and hold a line), and its data;
// the test is skipped where there is none.
func sysFile(t *testing.T) (string, []byte) {
	t.Helper()
	for _, name := range []string{
		"/sys/devices/system/cpu/possible",
		"/sys/devices/system/cpu/online",
		"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
	} {
		st, err := os.Stat(name)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(name)
		if err == nil && len(data) > 0 && int64(len(data)) != st.Size() {
			return name, data
		}
	}
	t.Skip("no file of /sys whose size is not its data")
	return "", nil
}

// TestRunTCPSysFile: a file that says 4096 bytes and holds a line (the
// attributes of /sys) is read to its end over TCP too, as GNU and Run
// read it; declared as @size=4096, it failed with "input ended after 4 of
// its 4096 bytes".
func TestRunTCPSysFile(t *testing.T) {
	name, data := sysFile(t)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  -\n"
	grpcAddr, tcpAddr, _ := strictServers(t)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := New(conn)
	for _, transport := range []string{"grpc", "tcp"} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if transport == "tcp" {
			err = RunTCP(ctxT(t), tcpAddr, nil, "sha256sum", f, &out)
		} else {
			_, err = c.Run(ctxT(t), "sha256sum", f, &out)
		}
		f.Close()
		if err != nil || out.String() != want {
			t.Errorf("%s, sha256sum < %s (%q): %q, %v; want %q", transport, name, data, out.String(), err, want)
		}
	}
}
