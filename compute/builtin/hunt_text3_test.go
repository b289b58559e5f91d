package builtin_test

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// The differences a GNU-oracle sweep of the text filters and digests
// found (hunt-text3), each against GNU coreutils 9.1 on its own inputs.

// TestHuntText3CksumLastAlgorithm: GNU's last -a wins, so an -a sm3 that
// a later -a replaces is GNU's success with the later algorithm, not
// halfclose's refusal of sm3 (which was refused as soon as it was read);
// an sm3 that stays is refused after the checks GNU makes first (-l
// without blake2b).
func TestHuntText3CksumLastAlgorithm(t *testing.T) {
	t.Parallel()
	checkCross(t, []string{"abc", ""}, [][]string{
		{"cksum", "-a", "sm3", "-a", "md5"},
		{"cksum", "--algorithm=sm3", "-a", "blake2b", "-l", "16"},
		{"cksum", "-a", "sm3", "--untagged", "-a", "crc"},
		{"cksum", "-a", "sm3", "-a", "sysv", "-"},
		{"cksum", "-a", "sm3", "-a", "bogus"},
	})
	for _, c := range []struct{ line, want string }{
		{"cksum -a md5 -a sm3", "unsupported"},
		{"cksum -a sm3 -l 8", "only supported with --algorithm=blake2b"},
	} {
		_, err := computetest.RunPipeline(t, c.line, []byte("abc"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.line, err, c.want)
		}
	}
}
