package grep

import (
	"runtime"
	"strings"
	"testing"
)

// TestWordMarksRewriteBounded: rewriting \< and \> beside many parts that
// may be empty is bounded (maxMarkWork), whatever the pattern then
// compiles to. Before, the first pattern allocated GiBs (35 s) and the
// second did not end.
func TestWordMarksRewriteBounded(t *testing.T) {
	pats := []string{
		strings.Repeat(`x?`, 200) + `\<` + strings.Repeat(`y?`, 200) + `\>` + strings.Repeat(`z?`, 200),
		`(((\<a?){0,4}){0,4}){0,4}`,
		strings.Repeat(`(a?\<b?|c?)`, 8),
		strings.Repeat(`(a\<|b|c|d|e|f|g|h|i|j)?`, 8),
	}
	for _, p := range pats {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, err := compileGrep([]string{p}, grepExtended, false, false, false, false, nil)
		runtime.ReadMemStats(&m1)
		if mib := (m1.TotalAlloc - m0.TotalAlloc) >> 20; mib > 64 {
			t.Errorf("%.40q: compiling allocated %d MiB (err %v)", p, mib, err)
		}
	}
}
