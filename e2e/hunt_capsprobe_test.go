package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gnuHelpTool is the GNU tool whose --help names the flags a command of
// the server may be asked for (its own name when absent).
var gnuHelpTool = map[string]string{"gunzip": "gzip", "zcat": "gzip"}

var (
	longFlagRE    = regexp.MustCompile(`--[a-z][a-z0-9-]*`)
	summaryWordRE = regexp.MustCompile(`\b[a-z][a-z0-9-]+\b`)
)

// abbreviates reports whether flag is a prefix of exactly one listed long
// flag: getopt_long takes it as that flag (docs/protocol.md), and
// Capabilities lists full names only.
func abbreviates(flag string, listed []*apiv1.FlagInfo) bool {
	if !strings.HasPrefix(flag, "--") {
		return false
	}
	n := 0
	seen := map[string]bool{}
	for _, f := range listed {
		if strings.HasPrefix(f.Name, flag) && !seen[f.Name] {
			seen[f.Name] = true
			n++
		}
	}
	return n == 1
}

// obsoleteNumber reports whether flag is head's and tail's obsolete
// -NUM (and tail's -[NUM][bcl]) form, which Capabilities does not list
// as a flag (docs/protocol.md documents it).
func obsoleteNumber(cmd, flag string) bool {
	if cmd != "head" && cmd != "tail" || len(flag) != 2 {
		return false
	}
	c := flag[1]
	return c >= '0' && c <= '9' || cmd == "tail" && (c == 'b' || c == 'l' || c == 'c')
}

// TestHuntCapabilitiesProbe checks Capabilities against the server's
// behaviour, both ways, with nothing but Capabilities and real calls to
// go on: every flag a command accepts (probed: every one-letter flag,
// every long flag the GNU tool's --help names, every flag any command
// lists) is listed for it, and every listed flag is accepted in some
// form (alone, with a value, with the operands the command needs); every
// algorithm listed digests, every other value of the enum is refused.
func TestHuntCapabilitiesProbe(t *testing.T) {
	t.Parallel()
	g, _ := startDaemon(t)
	c, err := client.Dial(g)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	text := "b 2\na 1\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	// accepted: the stage runs over some input (gunzip's is gzip data).
	accepted := func(argv []string) bool {
		for _, in := range []string{text, gz.String(), "YiAyCmEgMQo="} {
			_, err := c.Run(ctx, shJoin(argv), strings.NewReader(in), io.Discard)
			if status.Code(err) != codes.InvalidArgument {
				return true
			}
		}
		return false
	}
	var allListed []string
	for _, ci := range caps.Commands {
		for _, f := range ci.Flags {
			allListed = append(allListed, f.Name)
		}
	}
	for _, ci := range caps.Commands {
		listed := map[string]bool{}
		for _, f := range ci.Flags {
			listed[f.Name] = true
		}
		// The operands the command needs: the first set with which it runs.
		var operands []string
		found := false
		for _, ops := range [][]string{nil, {"a"}, {"a", "b"}, {"-f", "1"}} {
			if accepted(append([]string{ci.Name}, ops...)) {
				operands, found = ops, true
				break
			}
		}
		if !found {
			t.Errorf("%s: refused with every operand set tried", ci.Name)
			continue
		}
		summary := map[string]string{}
		for _, f := range ci.Flags {
			summary[f.Name] = f.Summary
		}
		forms := func(flag string) [][]string {
			var out [][]string
			// Values: a few generic ones, and the words of the flag's
			// summary (cksum -a's algorithms, sort --sort's WORDs); "2"
			// for a count whose least is 2 (sort --batch-size, as GNU).
			values := append([]string{"", "1", "a", ",", "0", "1-2", "2"}, summaryWordRE.FindAllString(summary[flag], -1)...)
			for _, v := range values {
				for _, ops := range [][]string{operands, nil, {"a"}, {"a", "b"}, {"-f"}} {
					argv := []string{ci.Name, flag}
					if v != "" {
						argv = append(argv, v)
					}
					out = append(out, append(argv, ops...))
				}
			}
			return out
		}
		works := func(flag string) bool {
			// A flag the parser names as unknown or unsupported is refused
			// in every form: one call tells.
			_, err := c.Run(ctx, shJoin(append([]string{ci.Name, flag}, operands...)), strings.NewReader(text), io.Discard)
			msg := status.Convert(err).Message()
			if strings.Contains(msg, "unknown flag "+strconv.Quote(flag)) || strings.Contains(msg, "unsupported flag "+strconv.Quote(flag)) {
				return false
			}
			return slices.ContainsFunc(forms(flag), accepted)
		}
		for _, f := range ci.Flags {
			if !works(f.Name) {
				t.Errorf("%s: listed flag %q refused in every form tried", ci.Name, f.Name)
			}
		}
		probe := slices.Clone(allListed)
		for _, r := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" {
			probe = append(probe, "-"+string(r))
		}
		tool := ci.Name
		if g, ok := gnuHelpTool[tool]; ok {
			tool = g
		}
		if path, err := exec.LookPath(tool); err == nil {
			cmd := exec.Command("timeout", "10", path, "--help")
			cmd.Env = cleanEnv()
			out, _ := cmd.Output()
			probe = append(probe, longFlagRE.FindAllString(string(out), -1)...)
		}
		slices.Sort(probe)
		for _, flag := range slices.Compact(probe) {
			if listed[flag] || abbreviates(flag, ci.Flags) || obsoleteNumber(ci.Name, flag) {
				continue
			}
			if works(flag) {
				t.Errorf("%s: flag %q is accepted but Capabilities does not list it", ci.Name, flag)
			}
		}
	}
	for a := range apiv1.Algorithm_name {
		algo := apiv1.Algorithm(a)
		if algo == apiv1.Algorithm_ALGORITHM_UNSPECIFIED {
			continue
		}
		_, err := c.Digest(ctx, bytes.NewReader([]byte("x")), []apiv1.Algorithm{algo}, nil)
		if slices.Contains(caps.Algorithms, algo) != (err == nil) {
			t.Errorf("Digest %v: err %v; Capabilities lists it: %v", algo, err, slices.Contains(caps.Algorithms, algo))
		}
	}
}

// shJoin quotes argv as one pipeline stage.
func shJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
