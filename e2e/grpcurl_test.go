package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// grpcurl runs bin/grpcurl -plaintext against addr with the JSON messages
// msgs as the request stream (-d @, from stdin); method "" with args runs
// another grpcurl command (list, describe).
func grpcurl(t testing.TB, addr, method string, msgs []any, args ...string) result {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	argv := []string{bin(t, "grpcurl"), "-plaintext"}
	if method != "" {
		argv = append(argv, "-d", "@", addr, method)
	} else {
		argv = append(argv, addr)
		argv = append(argv, args...)
	}
	p := writeFile(t, t.TempDir(), "req.json", in.Bytes())
	return run(t, "", p, argv...)
}

// jsonStream decodes every JSON value grpcurl printed.
func jsonStream(t testing.TB, out []byte) []map[string]any {
	t.Helper()
	var vs []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v map[string]any
		err := dec.Decode(&v)
		if err == io.EOF {
			return vs
		}
		if err != nil {
			t.Fatalf("grpcurl output is not JSON: %v\n%s", err, out)
		}
		vs = append(vs, v)
	}
}

// algoOracles maps each API algorithm to the local tool whose first word
// of output is its hex digest.
var algoOracles = []struct {
	algo string
	argv []string
}{
	{"ALGORITHM_MD5", []string{"md5sum"}},
	{"ALGORITHM_SHA1", []string{"sha1sum"}},
	{"ALGORITHM_SHA224", []string{"sha224sum"}},
	{"ALGORITHM_SHA256", []string{"sha256sum"}},
	{"ALGORITHM_SHA384", []string{"sha384sum"}},
	{"ALGORITHM_SHA512", []string{"sha512sum"}},
	{"ALGORITHM_BLAKE2B", []string{"b2sum"}},
	{"ALGORITHM_BLAKE3", []string{"b3sum"}},
	{"ALGORITHM_CKSUM", []string{"cksum"}}, // decimal CRC; compared as 8 hex digits
}

// oracleHex is the digest the local tool prints for the file, in hex.
func oracleHex(t testing.TB, path string, argv []string) string {
	t.Helper()
	word, _, _ := strings.Cut(string(gnu(t, path, argv...)), " ")
	if argv[0] == "cksum" {
		crc, err := strconv.ParseUint(word, 10, 32)
		if err != nil {
			t.Fatalf("cksum printed %q", word)
		}
		return fmt.Sprintf("%08x", crc)
	}
	return word
}

// chunked splits data into Digest/Run data messages: base64 "data" chunks
// of odd sizes, with hand-typed "text" chunks between them, and returns the
// messages and the bytes they carry.
func chunked(data []byte) ([]any, []byte) {
	var msgs []any
	var all []byte
	for i, k := 0, 0; i < len(data); k++ {
		n := min(len(data)-i, []int{1, 65535, 300_001, 1 << 20}[k%4])
		msgs = append(msgs, map[string]any{"data": base64.StdEncoding.EncodeToString(data[i : i+n])})
		all = append(all, data[i:i+n]...)
		i += n
		if k%3 == 1 {
			txt := fmt.Sprintf("text chunk %d, caf\u00e9\n", k)
			msgs = append(msgs, map[string]any{"text": txt})
			all = append(all, txt...)
		}
	}
	return msgs, all
}

// TestGrpcurlDigest: Digest through grpcurl, several algorithms in one
// call, against the local tools; then declared sizes and digests.
func TestGrpcurlDigest(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, _ := startDaemon(t)
	var algos []string
	for _, o := range algoOracles {
		algos = append(algos, o.algo)
	}
	for _, n := range []int{0, 1, 65537, 3 << 20} {
		t.Run(sizeName(n), func(t *testing.T) {
			msgs, data := chunked(randomBytes(t, n))
			path := writeFile(t, t.TempDir(), "in", data)
			req := append([]any{map[string]any{"header": map[string]any{"algorithms": algos}}}, msgs...)
			r := grpcurl(t, g, "halfclose.v1.ComputeService/Digest", req)
			if r.code != 0 {
				t.Fatalf("grpcurl exit %d: %s", r.code, r.stderr)
			}
			var resp struct {
				Size    string `json:"size"`
				Digests []struct{ Algorithm, Raw, Hex string }
			}
			if err := json.Unmarshal(r.stdout, &resp); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			if want := strconv.Itoa(len(data)); resp.Size != want && !(len(data) == 0 && resp.Size == "") {
				t.Errorf("size %q, want %s", resp.Size, want)
			}
			if len(resp.Digests) != len(algoOracles) {
				t.Fatalf("%d digests, want %d: %s", len(resp.Digests), len(algoOracles), r.stdout)
			}
			for i, o := range algoOracles {
				d := resp.Digests[i]
				raw, _ := base64.StdEncoding.DecodeString(d.Raw)
				if want := oracleHex(t, path, o.argv); d.Algorithm != o.algo || d.Hex != want || fmt.Sprintf("%x", raw) != want {
					t.Errorf("digest %d: %s raw %x hex %s; want %s %s", i, d.Algorithm, raw, d.Hex, o.algo, want)
				}
			}
		})
	}

	// Declared size and digests: a match succeeds, a mismatch is DataLoss.
	msgs, data := chunked(randomBytes(t, 65537))
	path := writeFile(t, t.TempDir(), "in", data)
	sha := oracleHex(t, path, []string{"sha256sum"})
	md5 := oracleHex(t, path, []string{"md5sum"})
	md5raw, _ := hexBytes(md5)
	wrong := strings.Repeat("0", len(sha))
	cases := []struct {
		name   string
		header map[string]any
		code   string // "" for success
	}{
		{"size matches", map[string]any{"algorithms": []string{"ALGORITHM_SHA256"}, "expectedSize": len(data)}, ""},
		{"size too small", map[string]any{"algorithms": []string{"ALGORITHM_SHA256"}, "expectedSize": len(data) - 1}, "DataLoss"},
		{"size too large", map[string]any{"algorithms": []string{"ALGORITHM_SHA256"}, "expectedSize": len(data) + 1}, "DataLoss"},
		{"digest matches", map[string]any{"expectedDigests": []any{map[string]any{"algorithm": "ALGORITHM_SHA256", "hex": sha}}}, ""},
		{"raw digest matches", map[string]any{"algorithms": []string{"ALGORITHM_SHA256"}, "expectedDigests": []any{map[string]any{"algorithm": "ALGORITHM_MD5", "raw": base64.StdEncoding.EncodeToString(md5raw)}}}, ""},
		{"digest differs", map[string]any{"algorithms": []string{"ALGORITHM_MD5"}, "expectedDigests": []any{map[string]any{"algorithm": "ALGORITHM_SHA256", "hex": wrong}}}, "DataLoss"},
		{"one of two digests differs", map[string]any{"expectedSize": len(data), "expectedDigests": []any{
			map[string]any{"algorithm": "ALGORITHM_SHA256", "hex": sha},
			map[string]any{"algorithm": "ALGORITHM_MD5", "hex": strings.Repeat("f", len(md5))},
		}}, "DataLoss"},
		{"digest of the wrong length", map[string]any{"expectedDigests": []any{map[string]any{"algorithm": "ALGORITHM_SHA256", "hex": "abcd"}}}, "InvalidArgument"},
		{"no algorithm", map[string]any{}, "InvalidArgument"},
		{"unspecified algorithm", map[string]any{"algorithms": []string{"ALGORITHM_UNSPECIFIED"}}, "InvalidArgument"},
	}
	for _, c := range cases {
		r := grpcurl(t, g, "halfclose.v1.ComputeService/Digest", append([]any{map[string]any{"header": c.header}}, msgs...))
		switch {
		case c.code == "" && r.code != 0:
			t.Errorf("%s: exit %d: %s", c.name, r.code, r.stderr)
		case c.code == "" && !bytes.Contains(r.stdout, []byte(sha)) && !bytes.Contains(r.stdout, []byte(md5)):
			t.Errorf("%s: reply %s has neither digest", c.name, r.stdout)
		case c.code != "" && (r.code == 0 || !bytes.Contains(r.stderr, []byte("Code: "+c.code))):
			t.Errorf("%s: exit %d, stderr %q; want Code: %s", c.name, r.code, r.stderr, c.code)
		}
	}
}

func hexBytes(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	_, err := fmt.Sscanf(s, "%x", &b)
	return b, err
}

// TestGrpcurlRun: Run through grpcurl: the output messages put together
// are what sh prints for the pipeline, and a summary ends the reply.
func TestGrpcurlRun(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, _ := startDaemon(t)
	for _, c := range []struct {
		pipeline string
		n        int
	}{
		{"sha256sum | sha256sum", 3 << 20},
		{"wc", 65537},
		{"wc -l", 0},
		{"md5sum --tag | wc -c", 1},
		// About 6 MB of output: more than one 4 MiB message.
		{"b3sum -l 3000000 --no-names", 1000},
	} {
		msgs, data := chunked(randomBytes(t, c.n))
		path := writeFile(t, t.TempDir(), "in", data)
		want := runPiped(t, "", path, "sh", "-c", c.pipeline).stdout
		req := append([]any{map[string]any{"header": map[string]any{"pipeline": c.pipeline}}}, msgs...)
		r := grpcurl(t, g, "halfclose.v1.ComputeService/Run", req)
		if r.code != 0 {
			t.Errorf("%q: grpcurl exit %d: %s", c.pipeline, r.code, r.stderr)
			continue
		}
		var got []byte
		var summary map[string]any
		for _, m := range jsonStream(t, r.stdout) {
			if summary != nil {
				t.Errorf("%q: a message after the summary: %v", c.pipeline, m)
			}
			if o, ok := m["output"].(string); ok {
				b, err := base64.StdEncoding.DecodeString(o)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b...)
			}
			if s, ok := m["summary"].(map[string]any); ok {
				summary = s
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q: %s", c.pipeline, diff(got, want))
		}
		if summary == nil || summary["outputBytes"] != strconv.Itoa(len(want)) || (len(data) > 0 && summary["inputBytes"] != strconv.Itoa(len(data))) {
			t.Errorf("%q: summary %v; want inputBytes %d, outputBytes %d", c.pipeline, summary, len(data), len(want))
		}
	}
}

// TestGrpcurlErrors: bad requests get the status the contract names.
func TestGrpcurlErrors(t *testing.T) {
	t.Parallel()
	g, _ := startDaemon(t, "--max-input-bytes", "100000")
	data := map[string]any{"data": base64.StdEncoding.EncodeToString([]byte("hello\n"))}
	big, _ := chunked(randomBytes(t, 400_000)) // over the limit in its third chunk
	cases := []struct {
		name, method string
		msgs         []any
		code, msg    string
	}{
		{"Digest without header", "Digest", []any{data}, "InvalidArgument", "missing header"},
		{"Digest, empty stream", "Digest", nil, "InvalidArgument", "missing header"},
		{"Digest, second header", "Digest", []any{map[string]any{"header": map[string]any{"algorithms": []string{"ALGORITHM_MD5"}}}, data, map[string]any{"header": map[string]any{"algorithms": []string{"ALGORITHM_MD5"}}}}, "InvalidArgument", "header"},
		{"Run without header", "Run", []any{data}, "InvalidArgument", "missing header"},
		{"Run, empty stream", "Run", nil, "InvalidArgument", "missing header"},
		{"Run, unknown command", "Run", []any{map[string]any{"header": map[string]any{"pipeline": "sha256sum | nosuchcmd"}}, data}, "InvalidArgument", `unknown command "nosuchcmd"`},
		{"Run, unknown flag", "Run", []any{map[string]any{"header": map[string]any{"pipeline": "wc --bogus"}}, data}, "InvalidArgument", `"--bogus"`},
		{"Run, empty pipeline", "Run", []any{map[string]any{"header": map[string]any{}}}, "InvalidArgument", "pipeline"},
		{"Run, over --max-input-bytes", "Run", append([]any{map[string]any{"header": map[string]any{"pipeline": "sha256sum"}}}, big...), "ResourceExhausted", ""},
		{"Digest, over --max-input-bytes", "Digest", append([]any{map[string]any{"header": map[string]any{"algorithms": []string{"ALGORITHM_MD5"}}}}, big...), "ResourceExhausted", ""},
	}
	for _, c := range cases {
		r := grpcurl(t, g, "halfclose.v1.ComputeService/"+c.method, c.msgs)
		if r.code == 0 || !bytes.Contains(r.stderr, []byte("Code: "+c.code)) || !bytes.Contains(r.stderr, []byte(c.msg)) {
			t.Errorf("%s: exit %d, stderr %q; want Code: %s and %q", c.name, r.code, r.stderr, c.code, c.msg)
		}
		if bytes.Contains(r.stdout, []byte("summary")) || bytes.Contains(r.stdout, []byte("digests")) {
			t.Errorf("%s: a result after an error: %s", c.name, r.stdout)
		}
	}
}

// TestGrpcurlIntrospection: reflection, health and Capabilities work with
// no proto files.
func TestGrpcurlIntrospection(t *testing.T) {
	t.Parallel()
	g, _ := startDaemon(t, "--max-input-bytes", "123456", "--max-jobs", "7")

	r := grpcurl(t, g, "", nil, "list")
	services := strings.Fields(string(r.stdout))
	for _, s := range []string{"halfclose.v1.ComputeService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} {
		if !slices.Contains(services, s) {
			t.Errorf("list: %q missing from %q (exit %d, %s)", s, services, r.code, r.stderr)
		}
	}
	r = grpcurl(t, g, "", nil, "list", "halfclose.v1.ComputeService")
	for _, m := range []string{"Digest", "Run", "Capabilities"} {
		if !bytes.Contains(r.stdout, []byte("halfclose.v1.ComputeService."+m)) {
			t.Errorf("list ComputeService: %s missing from %s", m, r.stdout)
		}
	}

	r = grpcurl(t, g, "grpc.health.v1.Health/Check", []any{map[string]any{}})
	if vs := jsonStream(t, r.stdout); r.code != 0 || len(vs) != 1 || vs[0]["status"] != "SERVING" {
		t.Errorf("health: exit %d, %s %s; want SERVING", r.code, r.stdout, r.stderr)
	}

	r = grpcurl(t, g, "halfclose.v1.ComputeService/Capabilities", []any{map[string]any{}})
	var caps struct {
		Commands   []struct{ Name string }
		Algorithms []string
		Limits     map[string]any
	}
	if err := json.Unmarshal(r.stdout, &caps); err != nil || r.code != 0 {
		t.Fatalf("Capabilities: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	var names []string
	for _, c := range caps.Commands {
		names = append(names, c.Name)
	}
	for _, c := range []string{"md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "b3sum", "cksum", "wc"} {
		if !slices.Contains(names, c) {
			t.Errorf("Capabilities: command %s missing from %q", c, names)
		}
	}
	for _, o := range algoOracles {
		if !slices.Contains(caps.Algorithms, o.algo) {
			t.Errorf("Capabilities: algorithm %s missing from %q", o.algo, caps.Algorithms)
		}
	}
	if caps.Limits["maxInputBytes"] != "123456" || caps.Limits["maxJobs"] != float64(7) {
		t.Errorf("Capabilities limits %v; want maxInputBytes 123456 and maxJobs 7, as the daemon was started", caps.Limits)
	}
}
