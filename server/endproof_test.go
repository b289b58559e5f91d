package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/oracle"
)

func i64(n int64) *int64 { return &n }

func digestHdr(h *apiv1.DigestHeader) *apiv1.DigestRequest {
	return &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: h}}
}

func digestEnd(size int64, ds ...*apiv1.ExpectedDigest) *apiv1.DigestRequest {
	return &apiv1.DigestRequest{Message: &apiv1.DigestRequest_End{End: &apiv1.End{Size: size, Digests: ds}}}
}

func runHdr(h *apiv1.RunHeader) *apiv1.RunRequest {
	return &apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: h}}
}

func runEnd(size int64, ds ...*apiv1.ExpectedDigest) *apiv1.RunRequest {
	return &apiv1.RunRequest{Message: &apiv1.RunRequest_End{End: &apiv1.End{Size: size, Digests: ds}}}
}

func hexDigest(a apiv1.Algorithm, h string) *apiv1.ExpectedDigest {
	return &apiv1.ExpectedDigest{Algorithm: a, Value: &apiv1.ExpectedDigest_Hex{Hex: h}}
}

// TestDigestEndProof: the End message and require_end on Digest, each
// case against its exact status code, and the job's outcome.
func TestDigestEndProof(t *testing.T) {
	env := startEnv(t, envConfig{})
	sha, md5 := apiv1.Algorithm_ALGORITHM_SHA256, apiv1.Algorithm_ALGORITHM_MD5
	abc := []byte("abc")
	abcSHA := oracleHex(t, abc, "sha256sum")
	plain := digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}})
	required := digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, RequireEnd: true})
	tests := []struct {
		name    string
		msgs    []*apiv1.DigestRequest
		code    codes.Code
		message string
		outcome string
	}{
		{"end proves the size", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3)}, codes.OK, "", OutcomeOK},
		{"end with the client's digest", []*apiv1.DigestRequest{required, dataMsg(abc), digestEnd(3, hexDigest(sha, strings.ToUpper(abcSHA)))}, codes.OK, "", OutcomeOK},
		{"end of an empty input", []*apiv1.DigestRequest{required, digestEnd(0)}, codes.OK, "", OutcomeOK},
		{"required, no end", []*apiv1.DigestRequest{required, dataMsg(abc)}, codes.DataLoss, "input ended without its End message", OutcomeAborted},
		{"required, nothing after the header", []*apiv1.DigestRequest{required}, codes.DataLoss, "input ended without its End message", OutcomeAborted},
		{"end size short", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(4)}, codes.DataLoss, "the client sent 4 bytes, the server received 3", OutcomeDataLoss},
		{"end size over", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(2)}, codes.DataLoss, "the client sent 2 bytes, the server received 3", OutcomeDataLoss},
		{"end digest mismatch", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3, hexDigest(sha, strings.Repeat("0", 64)))}, codes.DataLoss, "sha256 digest mismatch", OutcomeDataLoss},
		{"end digest not computed", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3, hexDigest(md5, strings.Repeat("0", 32)))}, codes.InvalidArgument, "ALGORITHM_MD5 was not computed", OutcomeInvalid},
		{"end digest bad hex", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3, hexDigest(sha, "xyz"))}, codes.InvalidArgument, "end: expected ALGORITHM_SHA256 digest is not hexadecimal", OutcomeInvalid},
		{"negative end size", []*apiv1.DigestRequest{plain, digestEnd(-1)}, codes.InvalidArgument, "end: negative size", OutcomeInvalid},
		{"data after end", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3), dataMsg(abc)}, codes.InvalidArgument, "data after the End message", OutcomeInvalid},
		{"two ends", []*apiv1.DigestRequest{plain, digestEnd(0), digestEnd(0)}, codes.InvalidArgument, "data after the End message", OutcomeInvalid},
		// docs/protocol.md: an empty chunk or a message with nothing set
		// (grpcurl's {}) after the End is refused too.
		{"empty text after end", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3), {Message: &apiv1.DigestRequest_Text{}}}, codes.InvalidArgument, "data after the End message", OutcomeInvalid},
		{"nothing set after end", []*apiv1.DigestRequest{plain, dataMsg(abc), digestEnd(3), {}}, codes.InvalidArgument, "data after the End message", OutcomeInvalid},
		{"header after end", []*apiv1.DigestRequest{plain, digestEnd(0), plain}, codes.InvalidArgument, "unexpected header", OutcomeInvalid},
		{"expected size short, end agrees with what arrived", []*apiv1.DigestRequest{digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, ExpectedSize: i64(4)}), dataMsg(abc), digestEnd(3)}, codes.DataLoss, "received 3 bytes, expected 4", OutcomeDataLoss},
		{"expected size and end disagree", []*apiv1.DigestRequest{digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, ExpectedSize: i64(3)}), dataMsg(abc), digestEnd(2)}, codes.DataLoss, "the client sent 2 bytes", OutcomeDataLoss},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := digestCall(t, env, tc.msgs...)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.message) {
				t.Fatalf("got %v (resp %v), want %v containing %q", err, resp, tc.code, tc.message)
			}
			if oc := env.obs.nextOutcome(t); oc != tc.outcome {
				t.Fatalf("outcome %q, want %q", oc, tc.outcome)
			}
			if tc.code == codes.OK && resp.GetDigests()[0].GetHex() != oracleHex(t, bytes.Repeat(abc, int(resp.GetSize()/3)), "sha256sum") {
				t.Fatalf("digest %v", resp)
			}
		})
	}
}

// runCall sends msgs on a Run stream, half-closes and collects the reply.
func runCall(t *testing.T, env *testEnv, msgs ...*apiv1.RunRequest) ([]byte, *apiv1.RunSummary, error) {
	t.Helper()
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if stream.Send(m) != nil {
			break
		}
	}
	stream.CloseSend()
	return collectRun(stream)
}

// TestRunEndProof: the End message, require_end and expected_size on Run;
// a failed proof yields no output at all, whatever the pipeline.
func TestRunEndProof(t *testing.T) {
	env := startEnv(t, envConfig{})
	abc := []byte("abc\n")
	hdr := func(pipeline string, require bool, size *int64) *apiv1.RunRequest {
		return runHdr(&apiv1.RunHeader{Pipeline: pipeline, RequireEnd: require, ExpectedSize: size})
	}
	tests := []struct {
		name    string
		msgs    []*apiv1.RunRequest
		code    codes.Code
		message string
		outcome string
	}{
		{"end proves the size", []*apiv1.RunRequest{hdr("testcat", false, nil), runData(abc), runEnd(4)}, codes.OK, "", OutcomeOK},
		{"required and proven", []*apiv1.RunRequest{hdr("testcat", true, i64(4)), runData(abc), runEnd(4)}, codes.OK, "", OutcomeOK},
		{"expected size met, no end", []*apiv1.RunRequest{hdr("testcat", false, i64(4)), runData(abc)}, codes.OK, "", OutcomeOK},
		{"required, no end", []*apiv1.RunRequest{hdr("testcat", true, nil), runData(abc)}, codes.DataLoss, "input ended without its End message", OutcomeAborted},
		{"required, no end, head done early", []*apiv1.RunRequest{hdr("head -n 1", true, nil), runData(abc)}, codes.DataLoss, "input ended without its End message", OutcomeAborted},
		{"required, no end, pipeline", []*apiv1.RunRequest{hdr("sort | uniq -c | sha256sum", true, nil), runData(abc)}, codes.DataLoss, "input ended without its End message", OutcomeAborted},
		{"expected size short", []*apiv1.RunRequest{hdr("testcat", false, i64(5)), runData(abc)}, codes.DataLoss, "received 4 bytes, expected 5", OutcomeDataLoss},
		// A lone digest runs inline (on the engine's goroutine, its reply
		// held, engine.Engine.Inline): its proofs are the same.
		{"required, no end, lone digest", []*apiv1.RunRequest{hdr("sha256sum", true, nil), runData(abc)}, codes.DataLoss, "input ended without its End message", OutcomeAborted},
		{"expected size short, lone digest", []*apiv1.RunRequest{hdr("b3sum", false, i64(5)), runData(abc), runEnd(4)}, codes.DataLoss, "received 4 bytes, expected 5", OutcomeDataLoss},
		{"expected size over, lone digest", []*apiv1.RunRequest{hdr("cksum", false, i64(3)), runData(abc)}, codes.DataLoss, "input exceeds the expected size of 3 bytes", OutcomeDataLoss},
		{"end size short, lone digest", []*apiv1.RunRequest{hdr("md5sum", false, nil), runData(abc), runEnd(5)}, codes.DataLoss, "the client sent 5 bytes, the server received 4", OutcomeDataLoss},
		{"expected size over", []*apiv1.RunRequest{hdr("testcat", false, i64(3)), runData(abc)}, codes.DataLoss, "input exceeds the expected size of 3 bytes", OutcomeDataLoss},
		// An End whose size is what arrived does not make up for the
		// bytes expected_size promised and the stream did not carry: the
		// job ran over 4 of 5 bytes and answered.
		{"expected size short, end agrees with what arrived", []*apiv1.RunRequest{hdr("testcat", false, i64(5)), runData(abc), runEnd(4)}, codes.DataLoss, "received 4 bytes, expected 5", OutcomeDataLoss},
		{"expected size short, required end", []*apiv1.RunRequest{hdr("testcat", true, i64(5)), runData(abc), runEnd(4)}, codes.DataLoss, "received 4 bytes, expected 5", OutcomeDataLoss},
		{"negative expected size", []*apiv1.RunRequest{hdr("testcat", false, i64(-1))}, codes.InvalidArgument, "negative expected_size", OutcomeInvalid},
		{"end size short", []*apiv1.RunRequest{hdr("testcat", false, nil), runData(abc), runEnd(5)}, codes.DataLoss, "the client sent 5 bytes, the server received 4", OutcomeDataLoss},
		{"end with digests", []*apiv1.RunRequest{hdr("testcat", false, nil), runData(abc), runEnd(4, hexDigest(apiv1.Algorithm_ALGORITHM_CRC32C, "00000000"))}, codes.InvalidArgument, "digests are checked by Digest only", OutcomeInvalid},
		{"data after end", []*apiv1.RunRequest{hdr("testcat", false, nil), runEnd(0), runData(abc)}, codes.InvalidArgument, "data after the End message", OutcomeInvalid},
		{"nothing set after end", []*apiv1.RunRequest{hdr("testcat", false, nil), runData(abc), runEnd(4), {}}, codes.InvalidArgument, "data after the End message", OutcomeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, sum, err := runCall(t, env, tc.msgs...)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.message) {
				t.Fatalf("got %v, want %v containing %q", err, tc.code, tc.message)
			}
			if oc := env.obs.nextOutcome(t); oc != tc.outcome {
				t.Fatalf("outcome %q, want %q", oc, tc.outcome)
			}
			if tc.code != codes.OK && (len(out) != 0 || sum != nil) {
				t.Fatalf("a failed proof produced %q and summary %v", out, sum)
			}
			if tc.code == codes.OK && (!bytes.Equal(out, abc) || sum.GetInputBytes() != 4) {
				t.Fatalf("output %q, summary %v", out, sum)
			}
		})
	}
}

// TestRunInputFileSize: input_file_size makes the first stage print as
// GNU does reading a regular file of that size (wc's widths); negative is
// INVALID_ARGUMENT.
func TestRunInputFileSize(t *testing.T) {
	env := startEnv(t, envConfig{})
	in := []byte("a b\n")
	for _, tc := range []struct {
		pipeline string
		size     *int64
		want     string
	}{
		{"wc", i64(4), "1 2 4\n"},
		{"wc -lc", i64(12345), "    1     4\n"},
		{"wc", nil, "      1       2       4\n"},
		{"testcat | wc", i64(4), "      1       2       4\n"},
	} {
		out, _, err := runCall(t, env, runHdr(&apiv1.RunHeader{Pipeline: tc.pipeline, InputFileSize: tc.size}), runData(in), runEnd(int64(len(in))))
		if err != nil || string(out) != tc.want {
			t.Fatalf("%s (file size %v): %q, %v; want %q", tc.pipeline, tc.size, out, err, tc.want)
		}
		env.obs.nextOutcome(t)
	}
	_, _, err := runCall(t, env, runHdr(&apiv1.RunHeader{Pipeline: "wc", InputFileSize: i64(-1)}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "negative input_file_size") {
		t.Fatalf("negative: %v", err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeInvalid {
		t.Fatalf("outcome %q", oc)
	}
	// input_file_mtime is the time of that file: without its size it is
	// INVALID_ARGUMENT, naming it (e2e's TestGzipListFileTime checks its
	// use against GNU).
	_, _, err = runCall(t, env, runHdr(&apiv1.RunHeader{Pipeline: "wc", InputFileMtime: i64(5)}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "input_file_mtime without input_file_size") {
		t.Fatalf("mtime without size: %v", err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeInvalid {
		t.Fatalf("outcome %q", oc)
	}
}

// TestRequireEndFlag: with Options.RequireEnd (--require-end) every stream
// must prove its end, whatever its header says.
func TestRequireEndFlag(t *testing.T) {
	env := startEnv(t, envConfig{requireEnd: true})
	sha := apiv1.Algorithm_ALGORITHM_SHA256
	if _, err := digestCall(t, env, header(sha), dataMsg([]byte("x"))); status.Code(err) != codes.DataLoss {
		t.Fatalf("Digest without End: %v, want DataLoss", err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeAborted {
		t.Fatalf("outcome %q", oc)
	}
	if out, _, err := runCall(t, env, runHeader("testcat"), runData([]byte("x"))); status.Code(err) != codes.DataLoss || len(out) != 0 {
		t.Fatalf("Run without End: %q %v, want DataLoss and nothing", out, err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeAborted {
		t.Fatalf("outcome %q", oc)
	}
	resp, err := digestCall(t, env, header(sha), dataMsg([]byte("x")), digestEnd(1))
	if err != nil || resp.GetDigests()[0].GetHex() != oracleHex(t, []byte("x"), "sha256sum") {
		t.Fatalf("Digest with End: %v %v", resp, err)
	}
	if out, _, err := runCall(t, env, runHeader("testcat"), runData([]byte("x")), runEnd(1)); err != nil || string(out) != "x" {
		t.Fatalf("Run with End: %q %v", out, err)
	}
}

// TestRunOutputChunksCapped: whatever --max-msg-bytes allows, an output
// message stays within the 4 MiB a default gRPC client accepts.
func TestRunOutputChunksCapped(t *testing.T) {
	env := startEnv(t, envConfig{maxMsg: 32 << 20})
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	input := randBytes(3, 64)
	stream.Send(runHeader("b3sum -l 6000000 --no-names"))
	stream.Send(runData(input))
	stream.CloseSend()
	// The test client keeps grpc's default 4 MiB receive limit: a bigger
	// message fails the call with RESOURCE_EXHAUSTED.
	out, sum, err := collectRun(stream)
	if err != nil {
		t.Fatal(err)
	}
	if want := oracle.Output(t, input, "b3sum", "-l", "6000000", "--no-names"); string(out) != want || sum.GetOutputBytes() != int64(len(want)) {
		t.Fatalf("output %d bytes, want %d", len(out), len(want))
	}
}

// TestCapabilitiesFlagNames: FlagInfo.name is one flag.
func TestCapabilitiesFlagNames(t *testing.T) {
	env := startEnv(t, envConfig{})
	resp, err := env.client.Capabilities(jobCtx(t), &apiv1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	takesValue := map[string]bool{}
	for _, c := range resp.GetCommands() {
		for _, f := range c.GetFlags() {
			n := f.GetName()
			if strings.ContainsAny(n, ", ") || !strings.HasPrefix(n, "-") {
				t.Errorf("%s: flag name %q is not one flag", c.GetName(), n)
			}
			seen[c.GetName()+" "+n] = true
			takesValue[c.GetName()+" "+n] = f.GetTakesValue()
		}
	}
	for _, want := range []string{"sha256sum -b", "sha256sum --binary", "wc -l", "wc --lines", "grep -m", "grep --max-count"} {
		if !seen[want] {
			t.Errorf("Capabilities lacks %q", want)
		}
	}
	// takes_value is "needs an argument": GNU's getopt takes -m's from the
	// next word, never --color's (optional: --color=WHEN only).
	for flag, want := range map[string]bool{"grep -m": true, "grep --max-count": true, "grep -c": false, "grep --color": false, "sort --check": false, "sort -k": true} {
		if got, ok := takesValue[flag]; !ok || got != want {
			t.Errorf("%s: takes_value %v (listed %v), want %v", flag, got, ok, want)
		}
	}
}

// h2Client is a bare HTTP/2 client on a real socket, for streams that a
// gRPC library would not send: it writes frames as told.
type h2Client struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	henc *hpack.Encoder
}

// dialH2 opens an h2c (prior knowledge) connection and sends the preface
// and SETTINGS.
func dialH2(t *testing.T, addr string) *h2Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &h2Client{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// call opens stream id on method with gRPC's request headers.
func (c *h2Client) call(id uint32, method string) {
	c.hbuf.Reset()
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", "halfclose"},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// send writes one gRPC message (uncompressed, length-prefixed) as a DATA
// frame; endStream sets END_STREAM on it.
func (c *h2Client) send(id uint32, m proto.Message, endStream bool) {
	b, err := proto.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(b)))
	if err := c.fr.WriteData(id, endStream, append(frame, b...)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next frame that is not connection housekeeping,
// answering the server's SETTINGS and PINGs on the way.
func (c *h2Client) next() http2.Frame {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.fr.WritePing(true, f.Data)
			}
		default:
			return f
		}
	}
}

// firstHeaders reads frames until the server's first HEADERS on stream id,
// answering SETTINGS and PINGs, and returns it with the DATA bytes the
// server sent on the stream before it.
func (c *h2Client) firstHeaders(id uint32) (*http2.MetaHeadersFrame, int) {
	data := 0
	for {
		switch f := c.next().(type) {
		case *http2.DataFrame:
			if f.StreamID == id {
				data += len(f.Data())
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				c.t.Fatalf("server reset stream %d: %v", id, f.ErrCode)
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return f, data
			}
		}
	}
}

// TestRawHTTP2EndStreamWithoutEnd is the grpc-js cancel: DATA with
// END_STREAM, then RST_STREAM, on a stream whose header asked for the
// proof. The server must answer DATA_LOSS at once (no output, no summary,
// no digest) and count the job as aborted, never compute a result.
func TestRawHTTP2EndStreamWithoutEnd(t *testing.T) {
	env := startEnv(t, envConfig{})
	tests := []struct {
		name   string
		method string
		header proto.Message
		data   proto.Message
	}{
		{"Run", "/halfclose.v1.ComputeService/Run",
			runHdr(&apiv1.RunHeader{Pipeline: "testcat", RequireEnd: true}),
			runData([]byte("partial input"))},
		{"Digest", "/halfclose.v1.ComputeService/Digest",
			digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, RequireEnd: true}),
			dataMsg([]byte("partial input"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(t, env.grpcAddr)
			const id = 1
			c.call(id, tc.method)
			c.send(id, tc.header, false)
			c.send(id, tc.data, false)
			c.send(id, tc.data, true) // DATA + END_STREAM, no End message
			// The server's first word on the stream must be its final
			// status: no response headers before output, no output.
			h, data := c.firstHeaders(id)
			c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			if data != 0 || !h.StreamEnded() {
				t.Fatalf("server started a reply (%d DATA bytes, end of stream %v)", data, h.StreamEnded())
			}
			if got := h.PseudoValue("status"); got != "200" {
				t.Fatalf(":status %q", got)
			}
			var grpcStatus, grpcMessage string
			for _, f := range h.Fields {
				switch f.Name {
				case "grpc-status":
					grpcStatus = f.Value
				case "grpc-message":
					grpcMessage = f.Value
				}
			}
			if grpcStatus != "15" || !strings.Contains(grpcMessage, "End message") {
				t.Fatalf("grpc-status %q grpc-message %q, want 15 (DATA_LOSS)", grpcStatus, grpcMessage)
			}
			if oc := env.obs.nextOutcome(t); oc != OutcomeAborted {
				t.Fatalf("job outcome %q, want %q", oc, OutcomeAborted)
			}
		})
	}

	// As grpc-js sends it: the RST right behind the END_STREAM, without
	// waiting for any reply. Whichever the server sees first, the job is
	// an abort, never ok.
	t.Run("reset at once", func(t *testing.T) {
		c := dialH2(t, env.grpcAddr)
		for id := uint32(1); id < 20; id += 2 {
			c.call(id, "/halfclose.v1.ComputeService/Run")
			c.send(id, runHdr(&apiv1.RunHeader{Pipeline: "testcat", RequireEnd: true}), false)
			c.send(id, runData([]byte("partial input")), true)
			c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			if oc := env.obs.nextOutcome(t); oc != OutcomeAborted && oc != OutcomeCanceled {
				t.Fatalf("stream %d: job outcome %q, want %q or %q", id, oc, OutcomeAborted, OutcomeCanceled)
			}
		}
	})
}
