package main

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// TestCommandsRateLimit: halfclose commands names the server's rate
// limit, as Capabilities reports it, and says nothing of one where there
// is none.
func TestCommandsRateLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		edge server.EdgeLimits
		want string // "": no rate limit named
	}{
		{server.EdgeLimits{RateLimit: 2.5, RateBurst: 11}, ", 2.5 calls a second from one address (bursts of 11)"},
		{server.EdgeLimits{RateLimit: 0.001, RateBurst: 1}, ", 0.001 calls a second from one address (bursts of 1)"},
		{server.EdgeLimits{}, ""},
	} {
		addr := serveCompute(t, engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{Edge: tc.edge})
		code, out, errs := runCLI(t, "--addr", addr, "commands")
		_, limits, _ := strings.Cut(out, "\nLimits: ")
		limits, _, _ = strings.Cut(limits, "\n")
		switch {
		case code != 0 || errs != "":
			t.Errorf("%+v: exit %d, stderr %q", tc.edge, code, errs)
		case tc.want == "" && strings.Contains(limits, "calls a second"):
			t.Errorf("%+v: Limits: %s; want no rate limit named", tc.edge, limits)
		case tc.want != "" && !strings.Contains(limits, tc.want):
			t.Errorf("%+v: Limits: %s; want %q", tc.edge, limits, tc.want)
		}
	}
}
