package e2e

import (
	"testing"
)

// TestExampleStdinDirectory: a client whose stdin is a directory (`client
// digest - < dir`) has an input error, not an empty input: it exits
// non-zero and prints no result. Node's process.stdin is an empty stream
// for such a descriptor, and the Node client printed the digest of
// nothing, exit 0, as the server answered the empty upload.
func TestExampleStdinDirectory(t *testing.T) {
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			client := exampleClient(t, lang)
			for _, args := range [][]string{{"digest", "-a", "sha256", "-"}, {"run", "sort"}} {
				got := run(t, "", dir, append(append(client, "--addr", g), args...)...)
				if got.code == 0 || len(got.stdout) != 0 {
					t.Errorf("%v < DIR: exit %d, stdout %q, stderr %q: want an error and no output", args, got.code, got.stdout, got.stderr)
				}
			}
		})
	}
	t.Run("cli", func(t *testing.T) {
		for _, args := range [][]string{{"sha256sum"}, {"sort"}, {"--tcp", "sha256sum"}} {
			got := run(t, "", dir, append([]string{bin(t, "halfclose"), "--addr", g, "--tcp-addr", tcp}, args...)...)
			if got.code == 0 || len(got.stdout) != 0 {
				t.Errorf("%v < DIR: exit %d, stdout %q, stderr %q: want an error and no output", args, got.code, got.stdout, got.stderr)
			}
		}
	})
}
