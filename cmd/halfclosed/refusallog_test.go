package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// TestRefusalsLoggedAndCounted: a call the auth layer refuses (no token,
// a wrong one) has its "finished call" line with its code and counts in
// grpc_server_handled_total, as any failed call does (auth runs inside
// the metrics and logging layers), and not in halfclose_refused_total;
// a call refused for its metadata's size (--max-metadata-bytes, by the
// tap before any interceptor, for any method) has neither: it counts in
// halfclose_refused_total{reason="metadata"} and the "requests refused"
// summary, as the connection and stream caps do, and is no job
// (docs/operations.md, "Logs"). Neither kind of refusal is a job. The
// summary's first line names the refused call's peer, method and code.
func TestRefusalsLoggedAndCounted(t *testing.T) {
	d := startDaemon(t, "--auth-token-file="+writeFile(t, "tok\n"), "--max-metadata-bytes=1KiB")
	cl := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))
	digest := func(md ...string) error {
		ctx := metadata.AppendToOutgoingContext(testCtx(t), md...)
		s, err := cl.Digest(ctx)
		if err != nil {
			return err
		}
		s.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}}})
		_, err = s.CloseAndRecv()
		return err
	}
	for _, tc := range []struct {
		md   []string
		code codes.Code
	}{
		{nil, codes.Unauthenticated},
		{[]string{"authorization", "Bearer wrong"}, codes.PermissionDenied},
		{[]string{"authorization", "Bearer tok", "x-pad", strings.Repeat("p", 1200)}, codes.ResourceExhausted},
		{[]string{"authorization", "Bearer tok"}, codes.OK},
	} {
		if err := digest(tc.md...); status.Code(err) != tc.code {
			t.Fatalf("Digest with %d metadata bytes: %v, want %v", len(strings.Join(tc.md, "")), err, tc.code)
		}
	}
	// Each line and count is made before the call's status goes out.
	if d.logBuf != nil {
		d.logBuf.Flush()
	}
	var calls []string
	var peers []string // the call lines' peer.address: one connection
	summary := 0
	var refusal map[string]any
	sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l["msg"] {
		case "finished call":
			if l["grpc.method"] == "Digest" {
				calls = append(calls, l["grpc.code"].(string))
				peers = append(peers, l["peer.address"].(string))
			}
		case "requests refused":
			if l["reason"] == "metadata" && l["adapter"] == "grpc" {
				summary++
				refusal = l
			}
		}
	}
	if got := strings.Join(calls, ","); got != "Unauthenticated,PermissionDenied,OK" {
		t.Errorf("Digest call lines with codes %s, want Unauthenticated,PermissionDenied,OK", got)
	}
	if summary != 1 {
		t.Errorf("%d \"requests refused\" lines for the metadata, want 1", summary)
	}
	// The refusal's line names the peer (every call here came on one
	// connection, whose address the call lines name), the method and
	// the code, as a call's line does. It named none of them.
	if len(peers) == 0 || refusal["peer"] != peers[0] || refusal["method"] != "/halfclose.v1.ComputeService/Digest" || refusal["code"] != "ResourceExhausted" || refusal["count"] != float64(1) {
		t.Errorf("the metadata refusal's line %v; want peer %v (the call lines'), method /halfclose.v1.ComputeService/Digest, code ResourceExhausted, count 1", refusal, peers)
	}
	fams := scrape(t, d.httpAddr())
	for code, want := range map[string]float64{"Unauthenticated": 1, "PermissionDenied": 1, "ResourceExhausted": 0, "OK": 1} {
		if got := metricValue(fams, "grpc_server_handled_total", map[string]string{"grpc_method": "Digest", "grpc_code": code}); got != want {
			t.Errorf("grpc_server_handled_total{Digest,%s} = %v, want %v", code, got, want)
		}
	}
	var jobs float64
	for _, m := range fams["halfclose_jobs_total"].GetMetric() {
		jobs += m.GetCounter().GetValue()
	}
	if jobs != 1 {
		t.Errorf("halfclose_jobs_total: %v jobs, want 1 (the one let in)", jobs)
	}
	var refused float64
	for _, m := range fams["halfclose_refused_total"].GetMetric() {
		refused += m.GetCounter().GetValue()
	}
	if got := metricValue(fams, "halfclose_refused_total", map[string]string{"adapter": "grpc", "reason": "metadata"}); got != 1 || refused != 1 {
		t.Errorf("halfclose_refused_total: %v for the metadata, %v in all; want 1 and 1", got, refused)
	}
}

// TestTCPJobLineCodeAndLevel: a raw-TCP job's line names the code of its
// verdict (the error line's CODE) and has the level a gRPC call's line
// has for that code: the same refusal on both adapters is one warning
// with code ResourceExhausted, a bad pipeline info with
// InvalidArgument, a result info with OK. The TCP line was info with no
// code whatever the job's end.
func TestTCPJobLineCodeAndLevel(t *testing.T) {
	d := startDaemon(t, "--max-input-bytes=10")
	big := []byte(strings.Repeat("x", 20))
	for _, tc := range []struct{ header, reply string }{
		{"wc -c\n", "halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of 10 bytes\n"},
		{"nosuch\n", "halfclose: error: INVALID_ARGUMENT: unknown command \"nosuch\"\n"},
		{"wc -l\n", "0\n"},
	} {
		in := big
		if tc.reply == "0\n" {
			in = []byte("abc")
		}
		if reply, err := tcpJob(t, d.tcpAddr(), nil, tc.header, in); reply != tc.reply {
			t.Errorf("%q: %q, %v; want %q", tc.header, reply, err, tc.reply)
		}
	}
	var out strings.Builder
	if _, err := grpcClient(t, d.grpcAddr()).Run(testCtx(t), "sha256sum", strings.NewReader(string(big)), &out); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC over --max-input-bytes: %v", err)
	}
	// Each line is written before its reply or status goes out.
	if d.logBuf != nil {
		d.logBuf.Flush()
	}
	type line struct{ level, code string }
	got := map[string]line{} // by command and outcome
	sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
	for sc.Scan() {
		var l struct {
			Level, Msg string
			Adapter    string
			Code       string `json:"code"`
			GRPCCode   string `json:"grpc.code"`
			Job        *struct{ Command, Outcome string }
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Job == nil {
			continue
		}
		code := l.Code
		if l.Adapter != "tcp" {
			code = l.GRPCCode
		}
		got[l.Job.Command+" "+l.Job.Outcome] = line{l.Level, code}
	}
	want := map[string]line{
		"wc limit":        {"WARN", "ResourceExhausted"},
		" invalid":        {"INFO", "InvalidArgument"},
		"wc ok":           {"INFO", "OK"},
		"sha256sum limit": {"WARN", "ResourceExhausted"}, // gRPC's, the oracle
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("job %q: line at %q with code %q, want %q and %q", k, got[k].level, got[k].code, w.level, w.code)
		}
	}
}
