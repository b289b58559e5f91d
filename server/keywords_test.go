package server

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestKeywordListGrep: a grep over a list of 1,500 keywords, which
// compiled to RE2 was over the pattern budget (RESOURCE_EXHAUSTED
// "pattern too large"), runs through the server (the keyword set,
// grep's kwset.go); a keyword set that with the patterns of the stages
// before it passes the budget is still refused with a message naming the
// keyword set. (gRPC only: such a pipeline is longer than the TCP
// adapter's header line.)
func TestKeywordListGrep(t *testing.T) {
	env := startEnv(t, envConfig{})
	var p strings.Builder
	p.WriteString("grep -F")
	for i := range 1500 {
		fmt.Fprintf(&p, " -e kw%04d", i)
	}
	var in, want bytes.Buffer
	for i := range 3000 {
		line := fmt.Sprintf("line %d has kw%04d in it\n", i, i*7%10000)
		in.WriteString(line)
		if i*7%10000 < 1500 {
			want.WriteString(line)
		}
	}
	out, _, err := runCall(t, env, runHeader(p.String()), runData(in.Bytes()))
	if err != nil {
		t.Fatalf("1,500 keywords: %v", err)
	}
	if !bytes.Equal(out, want.Bytes()) {
		t.Fatalf("1,500 keywords: %d bytes of output, want %d", len(out), want.Len())
	}

	// Four patterns of about 2,000 instructions each, then keywords of
	// 20,000 trie nodes (2,500 instructions): over the 10,000.
	rng := rand.New(rand.NewPCG(1, 2))
	p.Reset()
	p.WriteString("grep -E -e '.{1000}' -e 'a.{1000}' -e 'b.{1000}' -e 'c.{1000}' | grep -F")
	for range 1000 {
		b := make([]byte, 20)
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
		}
		fmt.Fprintf(&p, " -e %s", b)
	}
	const msg = "grep: keyword set too large: its "
	_, _, err = runCall(t, env, runHeader(p.String()), runData(in.Bytes()))
	if s := status.Convert(err); s.Code() != codes.ResourceExhausted || !strings.Contains(s.Message(), msg) || !strings.Contains(s.Message(), "trie nodes") {
		t.Fatalf("over the budget: gRPC %v, want RESOURCE_EXHAUSTED %q…", err, msg)
	}
}
