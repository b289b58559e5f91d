package engine_test

import (
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
)

// The hint is part of the error every client sees, on both adapters.
func TestUnknownCommandSuggests(t *testing.T) {
	reg := builtin.Registry()
	for _, tc := range []struct{ text, want string }{
		{"sha256summ", `unknown command "sha256summ" (did you mean "sha256sum"?)`},
		{"srot -n", `unknown command "srot" (did you mean "sort"?)`},
		{"SHA1SUM", `unknown command "SHA1SUM" (did you mean "sha1sum"?)`},
		{"grep x | uniqq -c", `unknown command "uniqq" (did you mean "uniq"?)`},
		{"tc", `unknown command "tc" (did you mean "tac", "tr" or "wc"?)`},
		{"tacc", `unknown command "tacc" (did you mean "tac"?)`},
		{"frob", `unknown command "frob"`},
		{"frobnicate", `unknown command "frobnicate"`},
		{"sort --revrese", `sort: unknown flag "--revrese" (did you mean "--reverse"?)`},
		{"sha256sum --tga", `sha256sum: unknown flag "--tga" (did you mean "--tag"?)`},
		{"wc --frobnicate", `wc: unknown flag "--frobnicate"`},
		{"sha256sum --frob", `sha256sum: unknown flag "--frob"`}, // 3 from --zero: too far
	} {
		_, err := engine.Compile(reg, nil, tc.text)
		if err == nil || err.Error() != tc.want || compute.CodeOf(err) != compute.CodeInvalid {
			t.Errorf("Compile(%q) = %v, want %s", tc.text, err, tc.want)
		}
	}
}
