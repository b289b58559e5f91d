package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// The gRPC API as a generated client in another language uses it: raw
// grpcio stubs (examples/python/halfclose/v1), not the Go client, sending
// the messages a hand-written client may send, in the orders it may send
// them. The expected statuses are docs/protocol.md's ("Status codes");
// the expected digests and outputs come from the GNU tools, b3sum, and
// references of the script's own (a table-driven CRC-32C from its
// polynomial, libxxhash's XXH3 through ctypes).

// huntAPIScript is run as `python3 script ADDR MODE [FILE...]` and prints
// one JSON object a line.
const huntAPIScript = `
import base64, ctypes, gzip, json, sys
import grpc
from halfclose.v1 import compute_pb2 as pb, compute_pb2_grpc as pb_grpc

addr, mode, files = sys.argv[1], sys.argv[2], sys.argv[3:]
ch = grpc.insecure_channel(addr)
stub = pb_grpc.ComputeServiceStub(ch)
A = pb.Algorithm
ED = pb.ExpectedDigest
S, M = A.ALGORITHM_SHA256, A.ALGORITHM_MD5

def out(**kw):
    print(json.dumps(kw), flush=True)

def H(**kw): return pb.DigestRequest(header=pb.DigestHeader(**kw))
def D(b): return pb.DigestRequest(data=b)
def T(s): return pb.DigestRequest(text=s)
def E(**kw): return pb.DigestRequest(end=pb.End(**kw))
def RH(**kw): return pb.RunRequest(header=pb.RunHeader(**kw))
def RD(b): return pb.RunRequest(data=b)
def RE(**kw): return pb.RunRequest(end=pb.End(**kw))

def digest(name, msgs, via=stub):
    try:
        r = via.Digest(iter(msgs), timeout=30)
    except grpc.RpcError as e:
        out(name=name, code=e.code().name, details=e.details())
        return
    out(name=name, code="OK", size=r.size,
        digests=[[A.Name(d.algorithm), d.hex, d.raw.hex()] for d in r.digests])

def run(name, msgs, cancel_after=-1):
    call = stub.Run(iter(msgs), timeout=30)
    got, summary, after = b"", None, False
    try:
        for r in call:
            if r.WhichOneof("message") == "output":
                after = after or summary is not None
                got += r.output
                if 0 <= cancel_after < len(got):
                    call.cancel()
            else:
                after = after or summary is not None
                summary = r.summary
        code, details = "OK", ""
    except grpc.RpcError as e:
        code, details = e.code().name, e.details()
    s = {}
    if summary is not None:
        s = dict(input_bytes=summary.input_bytes, output_bytes=summary.output_bytes,
                 exit_status=summary.exit_status, diagnostics=list(summary.diagnostics))
    out(name=name, code=code, details=details, output=base64.b64encode(got).decode(),
        summary=s if summary is not None else None, after_summary=after)

def crc32c(b):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    crc = 0xffffffff
    for x in b:
        crc = table[(crc ^ x) & 0xff] ^ (crc >> 8)
    return "%08x" % (crc ^ 0xffffffff)

def xxh3(b):
    try:
        lib = ctypes.CDLL("libxxhash.so.0")
    except OSError:
        return None
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return "%016x" % lib.XXH3_64bits(b, len(b))

if mode == "digest-cases":
    h6 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"  # sha256 of "hello\n"
    m6 = "b1946ac92492d2347c6235b4d2611184"
    hello = D(b"hello\n")
    for name, msgs in [
        ("no header", [hello]),
        ("empty stream", []),
        ("header twice", [H(algorithms=[S]), H(algorithms=[S])]),
        ("data before header", [hello, H(algorithms=[S])]),
        ("end before header", [E(size=0)]),
        ("no algorithm", [H(), hello]),
        ("unspecified algorithm", [H(algorithms=[0]), hello]),
        ("unknown algorithm", [H(algorithms=[S, 99]), hello]),
        ("duplicate algorithm", [H(algorithms=[S, M, S]), hello]),
        ("size too small", [H(algorithms=[S], expected_size=3), hello]),
        ("size too large", [H(algorithms=[S], expected_size=10), hello]),
        ("size exact", [H(algorithms=[S], expected_size=6), hello]),
        ("size zero", [H(algorithms=[S], expected_size=0)]),
        ("size negative", [H(algorithms=[S], expected_size=-1)]),
        ("expected wrong", [H(algorithms=[S], expected_digests=[ED(algorithm=S, hex="00" * 32)]), hello]),
        ("expected upper-case hex", [H(algorithms=[S], expected_digests=[ED(algorithm=S, hex=h6.upper())]), hello]),
        ("expected raw", [H(algorithms=[S], expected_digests=[ED(algorithm=S, raw=bytes.fromhex(h6))]), hello]),
        ("expected bad hex", [H(algorithms=[S], expected_digests=[ED(algorithm=S, hex="zz" * 32)]), hello]),
        ("expected short", [H(algorithms=[S], expected_digests=[ED(algorithm=S, hex=h6[:32])]), hello]),
        ("expected a hex digit short", [H(algorithms=[S], expected_digests=[ED(algorithm=S, hex=h6[:63])]), hello]),
        ("expected raw short", [H(algorithms=[S], expected_digests=[ED(algorithm=S, raw=bytes.fromhex(h6)[:16])]), hello]),
        ("expected other algorithm", [H(algorithms=[S], expected_digests=[ED(algorithm=M, hex=m6)]), hello]),
        ("expected other algorithm wrong", [H(algorithms=[S], expected_digests=[ED(algorithm=M, hex="00" * 16)]), hello]),
        ("bytes, text and empty chunks", [H(algorithms=[S]), D(b""), T("hel"), D(b""), T(""), D(b"lo\n"), E(size=6)]),
        ("header only", [H(algorithms=[S])]),
        ("header and empty chunks only", [H(algorithms=[S], require_end=True), D(b""), T(""), E(size=0)]),
        ("end size wrong", [H(algorithms=[S]), hello, E(size=5)]),
        ("end digest a hex digit short", [H(algorithms=[S]), hello, E(size=6, digests=[ED(algorithm=S, hex=h6[:63])])]),
        ("end digest wrong", [H(algorithms=[S]), hello, E(size=6, digests=[ED(algorithm=S, hex="11" * 32)])]),
        ("end digest not computed", [H(algorithms=[S]), hello, E(size=6, digests=[ED(algorithm=M, hex=m6)])]),
        ("end digest unspecified algorithm", [H(algorithms=[S]), hello, E(size=6, digests=[ED(algorithm=0, hex=h6)])]),
        ("end digest unknown algorithm", [H(algorithms=[S]), hello, E(size=6, digests=[ED(algorithm=99, hex=h6)])]),
        ("required end missing", [H(algorithms=[S], require_end=True), hello]),
        ("data after end", [H(algorithms=[S]), hello, E(size=6), hello]),
        ("empty data after end", [H(algorithms=[S]), hello, E(size=6), D(b"")]),
        ("empty text after end", [H(algorithms=[S]), hello, E(size=6), T("")]),
        ("empty message after end", [H(algorithms=[S]), hello, E(size=6), pb.DigestRequest()]),
    ]:
        digest(name, msgs)
    # Messages at --max-msg-bytes (4 MiB: a data field of L bytes is
    # 1 + 4 + L bytes), and gzip-compressed ones, whose limit holds after
    # decompression.
    digest("largest message", [H(algorithms=[S]), D(b"\0" * ((4 << 20) - 5))])
    digest("message over the limit", [H(algorithms=[S]), D(b"\0" * ((4 << 20) - 4))])
    # Metadata over --max-metadata-bytes (16 KiB): several values, and one
    # alone (which closed the connection: "Socket closed").
    for name, md in [("metadata over the limit", [("x-a", "a" * 9000), ("x-b", "b" * 9000)]),
                     ("one metadata value over the limit", [("x-a", "a" * 20000)])]:
        try:
            stub.Digest(iter([H(algorithms=[S])]), timeout=30, metadata=md)
            out(name=name, code="OK")
        except grpc.RpcError as e:
            out(name=name, code=e.code().name, details=e.details())
    gz = pb_grpc.ComputeServiceStub(grpc.insecure_channel(addr, compression=grpc.Compression.Gzip))
    digest("gzip", [H(algorithms=[S], require_end=True), D(b"hel"), T("lo\n"), E(size=6)], via=gz)
    digest("gzip, over the limit once decompressed", [H(algorithms=[S]), D(b"\0" * (8 << 20))], via=gz)

elif mode == "digest-oracle":
    algs = [a for a in A.values() if a != 0]
    cuts = [1, 0, 7, 63, 64, 65, 4095, 70001]
    for path in files:
        data = open(path, "rb").read()
        msgs, i, k = [H(algorithms=algs, require_end=True)], 0, 0
        while i < len(data):
            n = cuts[k % len(cuts)]
            msgs.append(D(data[i:i + n]))
            if k % 5 == 0:
                msgs.append(T(""))
            i, k = i + n, k + 1
        msgs.append(E(size=len(data)))
        digest(path, msgs)
        out(name=path, crc32c=crc32c(data), xxh3=xxh3(data))

elif mode in ("caps", "caps-every"):
    # Every flag Capabilities lists is known to the pipeline language, and
    # each one that takes no value prints what GNU prints (LC_ALL=C)
    # with the same exit status (gzip's bytes may differ: its status only).
    import gzip as gz, os, shlex, subprocess
    caps = stub.Capabilities(pb.CapabilitiesRequest(), timeout=30)
    lim = caps.limits
    out(name="limits", max_input_bytes=lim.max_input_bytes, max_jobs=lim.max_jobs,
        max_msg_bytes=lim.max_msg_bytes, idle_timeout_ms=lim.idle_timeout_ms,
        max_metadata_bytes=lim.max_metadata_bytes,
        algorithms=[A.Name(a) for a in caps.algorithms])
    text = b"b 2 x\na 10 y\nB 1 z\na 10 y\n\ncafe 3 ERROR\n"
    operands = {"grep": ["a"], "tr": ["a", "b"], "cut": ["-f", "1"]}
    flags = compared = 0
    every = mode == "caps-every"
    for c in caps.commands:
        summaries = set()
        for f in c.flags:
            flags += 1
            # A flag's other names (-b, --binary) share its summary: the
            # short run checks one name of each.
            if f.summary in summaries and not every:
                continue
            summaries.add(f.summary)
            argv = [c.name, f.name] + (["1"] if f.takes_value else []) + operands.get(c.name, [])
            if c.name == "tr" and f.name in ("-d", "--delete", "-s", "--squeeze-repeats"):
                argv = argv[:-1]
            p = shlex.join(argv)
            data = text
            if c.name in ("gunzip", "zcat") or c.name == "gzip" and f.name in ("-d", "--decompress", "--uncompress"):
                data = gz.compress(text, mtime=0)
            if c.name == "base64" and f.name in ("-d", "--decode"):
                data = b"YWJj\n"
            got, summary, code, details = b"", None, "OK", ""
            try:
                for r in stub.Run(iter([RH(pipeline=p), RD(data)]), timeout=30):
                    if r.WhichOneof("message") == "output":
                        got += r.output
                    else:
                        summary = r.summary
            except grpc.RpcError as e:
                code, details = e.code().name, e.details()
            if code != "OK":
                if "unknown flag" in details or "unknown option" in details:
                    out(name="refused", pipeline=p, details=details)
                continue
            if f.takes_value:
                continue
            # The GNU tool itself, with no shell (its words are argv).
            g = subprocess.run(argv, input=data, capture_output=True, timeout=10,
                               env={"LC_ALL": "C", "PATH": os.environ["PATH"]})
            compared += 1
            same = got == g.stdout or c.name == "gzip"
            if c.name == "sort" and f.name in ("-R", "--random-sort"):
                # a shuffle on both sides: the same lines, in an order of its own
                same = sorted(got.splitlines()) == sorted(g.stdout.splitlines())
            if not same or summary.exit_status != g.returncode:
                out(name="differs", pipeline=p, got=got.decode("latin-1"), gnu=g.stdout.decode("latin-1"),
                    status=summary.exit_status, gnu_status=g.returncode)
    out(name="flags", flags=flags, compared=compared)

elif mode == "stall":
    # A bare upload (no require_end, no End) that stops in the middle:
    # "sent" once grpc has taken the data, then nothing, until the test
    # kills the process or the deadline (argv[3] seconds, 0 for none)
    # ends the call.
    import threading
    def requests():
        yield H(algorithms=[S])
        yield D(b"x" * 65536)
        yield D(b"y" * 65536)
        print("sent", flush=True)
        threading.Event().wait()
    timeout = float(files[0]) or None
    try:
        r = stub.Digest(requests(), timeout=timeout)
        out(name="stall", code="OK", size=r.size)
    except grpc.RpcError as e:
        out(name="stall", code=e.code().name, details=e.details())

elif mode == "run-cases":
    data = open(files[0], "rb").read()
    for name, msgs in [
        ("no header", [RD(b"a\n")]),
        ("empty stream", []),
        ("no pipeline", [RH(), RD(b"a\n")]),
        ("blank pipeline", [RH(pipeline=" \t\n"), RD(b"a\n")]),
        ("bad pipeline", [RH(pipeline="wc |"), RD(b"a\n")]),
        ("unknown command", [RH(pipeline="sort | frob -x")]),
        ("data before header", [RD(b"a\n"), RH(pipeline="wc")]),
        ("header twice", [RH(pipeline="wc"), RH(pipeline="wc")]),
        ("end digests", [RH(pipeline="wc"), RD(b"a\n"), RE(size=2, digests=[ED(algorithm=M, hex="00" * 16)])]),
        ("required end missing", [RH(pipeline="wc -l", require_end=True), RD(b"a\n")]),
        ("empty data after end", [RH(pipeline="wc -l"), RD(b"a\n"), RE(size=2), RD(b"")]),
        ("empty message after end", [RH(pipeline="wc -l"), RD(b"a\n"), RE(size=2), pb.RunRequest()]),
    ]:
        run(name, msgs)
    for p in PIPELINES:
        msgs = [RH(pipeline=p, require_end=True)] + [RD(data[i:i + 65537]) for i in range(0, len(data), 65537)] + [RE(size=len(data))]
        run(p, msgs)
    # 64 MiB of output, far more than the client's buffers and the
    # server's spool memory: from the end of input on, gunzip waits for
    # the client, so the job is still sending when the cancel comes.
    z = gzip.compress(b"\0" * (64 << 20), 1)
    run("cancel mid-output", [RH(pipeline="gunzip -c", require_end=True), RD(z), RE(size=len(z))], cancel_after=1 << 20)
`

// huntPipelines are compared with GNU run by sh -c over the same input:
// output, exit status and the lines written on stderr.
var huntPipelines = []string{
	"grep -c ERROR",
	"grep -n 'ERROR x*$' | sort -r | uniq -c | head -n 5",
	"grep zzz",
	"sort -t ' ' -k 3n | tail -n 3",
	"cut -d ' ' -f 2 | sort -u | wc",
	"sort -c",
	"tac | head -c 100 | sha256sum",
	"gzip -c | gunzip -c | md5sum",
	"tr -s x | cksum",
}

// allAlgorithms are the API's algorithms in their enum order, the order
// the digest-oracle mode requests them in.
var allAlgorithms = []string{"ALGORITHM_MD5", "ALGORITHM_SHA1", "ALGORITHM_SHA224", "ALGORITHM_SHA256", "ALGORITHM_SHA384", "ALGORITHM_SHA512", "ALGORITHM_BLAKE2B", "ALGORITHM_BLAKE3", "ALGORITHM_CKSUM", "ALGORITHM_CRC32C", "ALGORITHM_XXH3"}

// huntPython runs huntAPIScript and returns its records by name.
func huntPython(t *testing.T, addr, mode string, files ...string) map[string][]map[string]any {
	t.Helper()
	py, err := findPython()
	if err != nil {
		missing(t, "%v", err)
	}
	dir := t.TempDir()
	pipes, _ := json.Marshal(huntPipelines)
	script := writeFile(t, dir, "hunt_api.py", []byte("PIPELINES = "+string(pipes)+"\n"+huntAPIScript))
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{script, addr, mode}, files...)...)
	cmd.Env = append(cleanEnv(), "PYTHONPATH="+filepath.Join(examplesDir(t), "python"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", mode, err, stderr.Bytes())
	}
	recs := map[string][]map[string]any{}
	for _, v := range jsonStream(t, stdout) {
		name, _ := v["name"].(string)
		recs[name] = append(recs[name], v)
	}
	return recs
}

// apiLeak matches what a status message must never show: Go's own
// errors and type names, file paths, stack traces.
func apiLeak(msg string) bool {
	for _, s := range []string{"rpc error:", "goroutine ", ".go:", "*errors.", "apiv1.", "compute.", "/home/", "/tmp/", "panic"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// TestHuntAPIDigestPython: Digest's header, data and End rules through
// raw grpcio stubs, status by status, and every algorithm's result over
// sizes around a block and a MiB, sent in odd chunks, against the
// oracles. An empty data or text message, or an empty one, after the End
// was taken as nothing and the call succeeded; the End is the last
// message, and only the half-close may follow it. An End digest of an
// unknown algorithm was blamed on the header.
func TestHuntAPIDigestPython(t *testing.T) {
	t.Parallel()
	d := launch(t)
	g := d.GRPC

	cases := []struct{ name, code, msg string }{
		{"no header", "INVALID_ARGUMENT", "missing header"},
		{"empty stream", "INVALID_ARGUMENT", "missing header"},
		{"header twice", "INVALID_ARGUMENT", "unexpected header"},
		{"data before header", "INVALID_ARGUMENT", "missing header"},
		{"end before header", "INVALID_ARGUMENT", "missing header"},
		{"no algorithm", "INVALID_ARGUMENT", "no algorithm"},
		{"unspecified algorithm", "INVALID_ARGUMENT", "header: unsupported algorithm ALGORITHM_UNSPECIFIED"},
		{"unknown algorithm", "INVALID_ARGUMENT", "header: unsupported algorithm 99"},
		{"duplicate algorithm", "INVALID_ARGUMENT", "ALGORITHM_SHA256 named twice"},
		{"size too small", "DATA_LOSS", "expected size of 3 bytes"},
		{"size too large", "DATA_LOSS", "received 6 bytes, expected 10"},
		{"size exact", "OK", ""},
		{"size zero", "OK", ""},
		{"size negative", "INVALID_ARGUMENT", "expected_size"},
		{"expected wrong", "DATA_LOSS", "sha256 digest mismatch"},
		{"expected upper-case hex", "OK", ""},
		{"expected raw", "OK", ""},
		{"expected bad hex", "INVALID_ARGUMENT", "not hexadecimal"},
		{"expected short", "INVALID_ARGUMENT", "has 32 hex digits, want 64"},
		{"expected a hex digit short", "INVALID_ARGUMENT", "expected ALGORITHM_SHA256 digest has 63 hex digits, want 64"},
		{"expected raw short", "INVALID_ARGUMENT", "has 16 bytes, want 32"},
		{"end digest a hex digit short", "INVALID_ARGUMENT", "end: expected ALGORITHM_SHA256 digest has 63 hex digits, want 64"},
		{"expected other algorithm", "OK", ""},
		{"expected other algorithm wrong", "DATA_LOSS", "md5 digest mismatch"},
		{"bytes, text and empty chunks", "OK", ""},
		{"header only", "OK", ""},
		{"header and empty chunks only", "OK", ""},
		{"end size wrong", "DATA_LOSS", "the client sent 5 bytes, the server received 6"},
		{"end digest wrong", "DATA_LOSS", "sha256 digest mismatch"},
		{"end digest not computed", "INVALID_ARGUMENT", "ALGORITHM_MD5 was not computed"},
		{"end digest unspecified algorithm", "INVALID_ARGUMENT", "end: unsupported algorithm ALGORITHM_UNSPECIFIED"},
		{"end digest unknown algorithm", "INVALID_ARGUMENT", "end: unsupported algorithm 99"},
		{"required end missing", "DATA_LOSS", "without its End message"},
		{"data after end", "INVALID_ARGUMENT", "after the End message"},
		{"empty data after end", "INVALID_ARGUMENT", "after the End message"},
		{"empty text after end", "INVALID_ARGUMENT", "after the End message"},
		{"empty message after end", "INVALID_ARGUMENT", "after the End message"},
		{"largest message", "OK", ""},
		{"message over the limit", "RESOURCE_EXHAUSTED", "larger than max"},
		{"metadata over the limit", "RESOURCE_EXHAUSTED", "exceeds the limit of 16384 bytes"},
		{"one metadata value over the limit", "RESOURCE_EXHAUSTED", "exceeds the limit of 16384 bytes"},
		{"gzip", "OK", ""},
		{"gzip, over the limit once decompressed", "RESOURCE_EXHAUSTED", "larger than max"},
	}
	hello := writeFile(t, t.TempDir(), "hello", []byte("hello\n"))
	empty := writeFile(t, t.TempDir(), "empty", nil)
	recs := huntPython(t, g, "digest-cases")
	for _, c := range cases {
		rs := recs[c.name]
		if len(rs) != 1 {
			t.Errorf("%s: %d records", c.name, len(rs))
			continue
		}
		r := rs[0]
		details, _ := r["details"].(string)
		if r["code"] != c.code || !strings.Contains(details, c.msg) || apiLeak(details) {
			t.Errorf("%s: %v %q; want %s containing %q", c.name, r["code"], details, c.code, c.msg)
			continue
		}
		if c.code != "OK" {
			continue
		}
		// Every successful case hashed "hello\n" (or nothing) with SHA-256,
		// plus MD5 when only an expected digest named it, in that order.
		in := hello
		switch {
		case strings.HasPrefix(c.name, "size zero") || strings.HasPrefix(c.name, "header"):
			in = empty
		case c.name == "largest message":
			in = cachedFile(t, "zeros-4194299", func(w io.Writer) error {
				_, err := w.Write(make([]byte, 4<<20-5))
				return err
			})
		}
		want := [][]any{{"ALGORITHM_SHA256", oracleHex(t, in, []string{"sha256sum"})}}
		if c.name == "expected other algorithm" {
			want = append(want, []any{"ALGORITHM_MD5", oracleHex(t, in, []string{"md5sum"})})
		}
		ds, _ := r["digests"].([]any)
		var got [][]any
		for _, d := range ds {
			d := d.([]any)
			if d[1] != d[2] {
				t.Errorf("%s: %v: hex and raw differ", c.name, d)
			}
			got = append(got, d[:2])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: digests %v; want %v", c.name, got, want)
		}
	}

	// The two messages over --max-msg-bytes are counted as the limit they
	// hit (docs/protocol.md).
	d.waitRecord(t, func() []map[string]any {
		var limits []map[string]any
		for _, c := range d.calls("Digest") {
			if j, _ := c["job"].(map[string]any); j["outcome"] == "limit" {
				limits = append(limits, c)
			}
		}
		return limits
	}, 1, func(map[string]any) bool { return true })

	var files []string
	for _, n := range []int{0, 1, 63, 64, 65, 1 << 20, 1<<20 + 1} {
		files = append(files, randomFile(t, n))
	}
	recs = huntPython(t, g, "digest-oracle", files...)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		rs := recs[f]
		if len(rs) != 2 || rs[0]["code"] != "OK" {
			t.Errorf("%d bytes: %v", st.Size(), rs)
			continue
		}
		r, ref := rs[0], rs[1]
		if r["size"] != float64(st.Size()) {
			t.Errorf("%d bytes: size %v", st.Size(), r["size"])
		}
		want := map[string]string{"ALGORITHM_CRC32C": ref["crc32c"].(string)}
		if x, ok := ref["xxh3"].(string); ok {
			want["ALGORITHM_XXH3"] = x
		} else {
			missing(t, "libxxhash.so.0, the XXH3 reference (apt-get install libxxhash0)")
		}
		for _, o := range algoOracles {
			want[o.algo] = oracleHex(t, f, o.argv)
		}
		var order []string
		for _, d := range r["digests"].([]any) {
			d := d.([]any)
			algo, hex, raw := d[0].(string), d[1].(string), d[2].(string)
			order = append(order, algo)
			if hex != want[algo] || raw != hex {
				t.Errorf("%d bytes: %s hex %s raw %s; want %s", st.Size(), algo, hex, raw, want[algo])
			}
		}
		if !slices.Equal(order, allAlgorithms) {
			t.Errorf("%d bytes: algorithms %v; want %v, as requested", st.Size(), order, allAlgorithms)
		}
	}
}

// TestHuntAPIRunPython: Run's header and End rules through raw grpcio
// stubs, pipelines' summaries (exit status, diagnostics, byte counts)
// against GNU run by sh -c, and a client that cancels in the middle of
// the output: CANCELLED, never a summary.
func TestHuntAPIRunPython(t *testing.T) {
	t.Parallel()
	d := launch(t)
	need(t, "sh")

	var text bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&text, "line %d ERROR %s z%d\n", i, strings.Repeat("x", i%7), (i*7919)%1000)
	}
	text.WriteString("no newline")
	in := writeFile(t, t.TempDir(), "in.txt", text.Bytes())
	recs := huntPython(t, d.GRPC, "run-cases", in)

	cases := []struct{ name, code, msg string }{
		{"no header", "INVALID_ARGUMENT", "missing header"},
		{"empty stream", "INVALID_ARGUMENT", "missing header"},
		{"no pipeline", "INVALID_ARGUMENT", "pipeline: empty"},
		{"blank pipeline", "INVALID_ARGUMENT", "pipeline: empty"},
		{"bad pipeline", "INVALID_ARGUMENT", `missing command after "|"`},
		{"unknown command", "INVALID_ARGUMENT", `unknown command "frob"`},
		{"data before header", "INVALID_ARGUMENT", "missing header"},
		{"header twice", "INVALID_ARGUMENT", "unexpected header"},
		{"end digests", "INVALID_ARGUMENT", "Run checks the size"},
		{"required end missing", "DATA_LOSS", "without its End message"},
		{"empty data after end", "INVALID_ARGUMENT", "after the End message"},
		{"empty message after end", "INVALID_ARGUMENT", "after the End message"},
		{"cancel mid-output", "CANCELLED", ""},
	}
	for _, c := range cases {
		rs := recs[c.name]
		if len(rs) != 1 {
			t.Errorf("%s: %d records", c.name, len(rs))
			continue
		}
		r := rs[0]
		details, _ := r["details"].(string)
		if r["code"] != c.code || !strings.Contains(details, c.msg) || apiLeak(details) || r["summary"] != nil {
			t.Errorf("%s: %v %q, summary %v; want %s containing %q and no summary", c.name, r["code"], details, r["summary"], c.code, c.msg)
		}
		if c.code != "CANCELLED" && r["output"] != "" {
			t.Errorf("%s: output %q before an error", c.name, r["output"])
		}
	}
	// The cancelled job is counted as such on the server.
	d.waitRecord(t, func() []map[string]any { return d.calls("Run") }, 0, func(c map[string]any) bool {
		j, _ := c["job"].(map[string]any)
		return j["command"] == "gunzip" && j["outcome"] == "canceled"
	})

	for _, p := range huntPipelines {
		rs := recs[p]
		if len(rs) != 1 || rs[0]["code"] != "OK" || rs[0]["summary"] == nil || rs[0]["after_summary"] != false {
			t.Errorf("%s: %v", p, rs)
			continue
		}
		r := rs[0]
		got, err := base64.StdEncoding.DecodeString(r["output"].(string))
		if err != nil {
			t.Fatal(err)
		}
		need(t, strings.Fields(p)[0])
		want := runPiped(t, "", in, "timeout", "10", "sh", "-c", p)
		s := r["summary"].(map[string]any)
		var diags []string
		for _, l := range s["diagnostics"].([]any) {
			diags = append(diags, l.(string))
		}
		wantDiags := strings.Split(strings.TrimSuffix(string(want.stderr), "\n"), "\n")
		if len(want.stderr) == 0 {
			wantDiags = nil
		}
		if !bytes.Equal(got, want.stdout) {
			t.Errorf("%s: %s", p, diff(got, want.stdout))
		}
		if s["exit_status"] != float64(want.code) || fmt.Sprint(diags) != fmt.Sprint(wantDiags) {
			t.Errorf("%s: exit %v, diagnostics %q; GNU exits %d, writes %q", p, s["exit_status"], diags, want.code, wantDiags)
		}
		if s["input_bytes"] != float64(text.Len()) || s["output_bytes"] != float64(len(got)) {
			t.Errorf("%s: summary counts %v/%v; want %d in, %d out", p, s["input_bytes"], s["output_bytes"], text.Len(), len(got))
		}
	}
}

// TestHuntAPIGrpcurlAfterEnd: grpcurl's `{}` after the End, an empty
// message, is INVALID_ARGUMENT as any message after it, and no result.
func TestHuntAPIGrpcurlAfterEnd(t *testing.T) {
	t.Parallel()
	g, _ := startDaemon(t)
	hdr := map[string]any{"header": map[string]any{"algorithms": []string{"ALGORITHM_SHA256"}}}
	for _, last := range []map[string]any{{}, {"text": ""}, {"data": ""}} {
		r := grpcurl(t, g, "halfclose.v1.ComputeService/Digest", []any{hdr, map[string]any{"text": "hi\n"}, map[string]any{"end": map[string]any{"size": 3}}, last})
		if r.code == 0 || !bytes.Contains(r.stderr, []byte("Code: InvalidArgument")) || !bytes.Contains(r.stderr, []byte("after the End message")) || bytes.Contains(r.stdout, []byte("digests")) {
			t.Errorf("End then %v: exit %d, stdout %s, stderr %s; want InvalidArgument and no result", last, r.code, r.stdout, r.stderr)
		}
	}
}

// TestHuntAPIPythonStalledUpload: a grpcio upload that stops in the
// middle, without require_end, ends by the client's death (SIGKILL: the
// kernel closes its socket, no END_STREAM was sent) or its deadline:
// never a result, the job counted as the abort it was.
func TestHuntAPIPythonStalledUpload(t *testing.T) {
	t.Parallel()
	py, err := findPython()
	if err != nil {
		missing(t, "%v", err)
	}
	d := launch(t)
	script := writeFile(t, t.TempDir(), "hunt_api.py", []byte("PIPELINES = []\n"+huntAPIScript))
	for i, c := range []struct {
		name, deadline string
		codes          []string // what the client may see
		outcome        string
	}{
		{"killed", "0", nil, "canceled"},
		// The deadline travels as grpc-timeout: the server's timer or the
		// client's fires first (docs/clients.md); either way the server
		// counts the deadline (a reset at it was canceled).
		{"deadline", "0.5", []string{"DEADLINE_EXCEEDED", "CANCELLED"}, "idle"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, script, d.GRPC, "stall", c.deadline)
			cmd.Env = append(cleanEnv(), "PYTHONPATH="+filepath.Join(examplesDir(t), "python"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			out := bufio.NewReader(stdout)
			line, err := out.ReadString('\n')
			if line != "sent\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("stall: %q %v\n%s", line, err, stderr.Bytes())
			}
			if c.codes == nil {
				cmd.Process.Kill()
				rest, _ := io.ReadAll(out)
				cmd.Wait()
				if len(rest) != 0 {
					t.Errorf("the killed client printed %q", rest)
				}
			} else {
				rest, _ := io.ReadAll(out)
				if err := cmd.Wait(); err != nil {
					t.Fatalf("%v\n%s", err, stderr.Bytes())
				}
				var r map[string]any
				if err := json.Unmarshal(rest, &r); err != nil || !slices.Contains(c.codes, fmt.Sprint(r["code"])) {
					t.Errorf("the client saw %s; want one of %v", rest, c.codes)
				}
			}
			rec := d.waitRecord(t, func() []map[string]any { return d.calls("Digest") }, i, func(map[string]any) bool { return true })
			j, _ := rec["job"].(map[string]any)
			if j["outcome"] == "ok" || c.outcome != "" && j["outcome"] != c.outcome {
				t.Errorf("the server's job: %v; want outcome %q, never ok", rec, c.outcome)
			}
		})
	}
}

// huntNodeAfterEnd sends, with @grpc/grpc-js, an End and then one more
// message that carries nothing: an empty data chunk, an empty text chunk,
// a message with nothing set. It prints each call's outcome.
const huntNodeAfterEnd = `
const dir = process.env.EXAMPLES_NODE;
const grpc = require(dir + '/node_modules/@grpc/grpc-js');
const loader = require(dir + '/node_modules/@grpc/proto-loader');
const def = loader.loadSync(process.env.PROTO, {keepCase: true, longs: String, enums: String, oneofs: true, defaults: true});
const pkg = grpc.loadPackageDefinition(def).halfclose.v1;
const c = new pkg.ComputeService(process.argv[2], grpc.credentials.createInsecure());
const lasts = [['data', {data: Buffer.alloc(0)}], ['text', {text: ''}], ['nothing', {}]];
let left = lasts.length;
for (const [name, last] of lasts) {
  const call = c.Digest((err, r) => {
    console.log(name, err ? grpc.status[err.code] + ' ' + err.details : 'OK ' + r.size);
    if (--left === 0) c.close();
  });
  call.write({header: {algorithms: ['ALGORITHM_SHA256'], require_end: true}});
  call.write({data: Buffer.from('hi\n')});
  call.write({end: {size: '3'}});
  call.write(last);
  call.end();
}
`

// TestHuntAPINodeAfterEnd: grpc-js's empty messages after the End are
// INVALID_ARGUMENT, as any message after it; they were skipped and the
// call answered.
func TestHuntAPINodeAfterEnd(t *testing.T) {
	t.Parallel()
	node := exampleClient(t, "node")[0]
	g, _ := startDaemon(t)
	script := writeFile(t, t.TempDir(), "after_end.js", []byte(huntNodeAfterEnd))
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, g)
	cmd.Env = append(cleanEnv(), "EXAMPLES_NODE="+filepath.Join(examplesDir(t), "node"), "PROTO="+filepath.Join(root, "proto", "halfclose", "v1", "compute.proto"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(lines)
	const want = "INVALID_ARGUMENT data after the End message: only the half-close may follow it"
	if fmt.Sprint(lines) != fmt.Sprint([]string{"data " + want, "nothing " + want, "text " + want}) {
		t.Errorf("grpc-js, End then an empty message:\n%s", out)
	}
}

// TestHuntAPICapabilitiesFlags: what Capabilities lists works. Every
// flag (one name of each by default, every name in the long run) is known
// to the pipeline language; each flag that takes no value, alone on its
// command, prints what GNU prints with the same exit status; the limits
// are the daemon's flags, the algorithms the API's.
func TestHuntAPICapabilitiesFlags(t *testing.T) {
	t.Parallel()
	need(t, "gzip")
	g, _ := startDaemon(t, "--max-input-bytes", "7654321", "--max-jobs", "9", "--max-msg-bytes", "2MiB", "--idle-timeout", "42s", "--max-metadata-bytes", "3KiB")
	mode := "caps"
	if testenv.Long() {
		mode = "caps-every"
	}
	recs := huntPython(t, g, mode)
	for _, r := range append(recs["refused"], recs["differs"]...) {
		t.Errorf("%v", r)
	}
	if f := recs["flags"]; len(f) != 1 || f[0]["flags"].(float64) < 100 || f[0]["compared"].(float64) < 100 {
		t.Errorf("flags listed and compared: %v", f)
	}
	lim := recs["limits"]
	if len(lim) != 1 {
		t.Fatalf("limits: %v", lim)
	}
	want := map[string]float64{"max_input_bytes": 7654321, "max_jobs": 9, "max_msg_bytes": 2 << 20, "idle_timeout_ms": 42000, "max_metadata_bytes": 3 << 10}
	for k, v := range want {
		if lim[0][k] != v {
			t.Errorf("Capabilities limits: %s = %v; want %v, as the daemon was started", k, lim[0][k], v)
		}
	}
	if fmt.Sprint(lim[0]["algorithms"]) != fmt.Sprint(allAlgorithms) {
		t.Errorf("Capabilities algorithms %v; want %v", lim[0]["algorithms"], allAlgorithms)
	}
}
