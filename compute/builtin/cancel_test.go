package builtin_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// cancelInput is an input made of one block repeated: forever (endless)
// or up to n bytes and then io.EOF. After `after` bytes it starts the
// cancel: a timer, so that the stage is busy with what it read when the
// cancel comes (the timer is not a synchronisation: the stage must return
// whenever the cancel comes).
type cancelInput struct {
	block   []byte
	pos     int
	n       int64 // bytes served
	limit   int64 // io.EOF after this many; < 0: endless
	after   int64
	started bool
	cancel  func()
}

func (c *cancelInput) Read(p []byte) (int, error) {
	if c.limit >= 0 && c.n >= c.limit {
		c.startCancel()
		return 0, io.EOF
	}
	if c.limit >= 0 {
		p = p[:min(int64(len(p)), c.limit-c.n)]
	}
	k := 0
	for k < len(p) {
		m := copy(p[k:], c.block[c.pos:])
		k += m
		c.pos = (c.pos + m) % len(c.block)
	}
	c.n += int64(k)
	if c.n >= c.after {
		c.startCancel()
	}
	return k, nil
}

func (c *cancelInput) startCancel() {
	if !c.started {
		c.started = true
		time.AfterFunc(10*time.Millisecond, c.cancel)
	}
}

// cancelCase is one command line and the block its input repeats.
type cancelCase struct {
	text  string
	block []byte
	after int64 // bytes before the cancel starts (endless mode)
	size  int64 // input size for the at-end mode (the cancel comes after the end)
	cfg   engine.Config
}

func cancelCases() []cancelCase {
	lines := []byte{}
	for i := 0; len(lines) < 1<<20; i++ {
		lines = fmt.Appendf(lines, "%d level=%s user=u%d msg=request took %dms\n", i*7919%100003, []string{"INFO", "DEBUG", "ERROR"}[i%3], i%101, i%997)
	}
	random := computetest.RandomBytes(11, 1<<20)
	// one gzip member; repeated, a valid multi-member stream
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("halfclose "), 1<<20))
	zw.Close()
	b64 := []byte(base64.StdEncoding.EncodeToString(random[:3<<16]) + "\n")
	// lines of 64 KiB: too long to search as a slice against a pattern
	// of two thousand instructions, searched through the cancellable
	// reader. The x in the middle passes the literal prefilters, so the
	// regexp runs: for seconds a line, in one piece.
	half := bytes.Repeat([]byte("ab"), 16<<10)
	long := slices.Concat(half, []byte("x"), half, []byte("\n"))
	big := engine.Config{Spool: compute.SpoolConfig{MemBytes: 32 << 20}}
	const mib = 1 << 20
	var cs []cancelCase
	add := func(text string, block []byte, after, size int64) {
		// whole blocks: base64 and gzip input stays valid
		cs = append(cs, cancelCase{text: text, block: block, after: after, size: max(size/int64(len(block)), 1) * int64(len(block))})
	}
	for _, c := range []string{"md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "b3sum", "cksum", "cksum -a sha512", "cksum -a sm3", "sum", "sum -s", "crc32c", "xxh3"} {
		add(c, random, mib/2, 2*mib)
	}
	add("wc", lines, mib/2, 2*mib)
	add("wc -L", lines, mib/2, 2*mib)
	add("tr a-z A-Z", lines, mib/2, 2*mib)
	add("tr -s ' '", lines, mib/2, 2*mib)
	add("cut -d' ' -f2,4", lines, mib/2, 2*mib)
	add("cut -c3-9", lines, mib/2, 2*mib)
	add("base64", random, mib/2, 2*mib)
	add("base64 -d", b64, mib/2, 2*mib)
	// gzip compresses as it reads (2 MiB at -9 cost 2 CPU-s under -race):
	// what it holds at the end is a block, and half a MiB is many.
	add("gzip -c", random[:mib/4], mib/4, mib/2)
	add("gzip -9", lines[:mib/4], mib/4, mib/2)
	add("gunzip", gz.Bytes(), 256<<10, int64(gz.Len()))
	add("zcat", gz.Bytes(), 256<<10, int64(gz.Len()))
	add("head -n -5", lines, mib/2, 2*mib)
	add("head -c 1000000000", lines, mib/2, 2*mib)
	add("tail -n 5", lines, mib/2, 2*mib)
	add("tail -c +5", lines, mib/2, 2*mib)
	add("tac", lines, mib/2, 2*mib)
	add("uniq -c", lines, mib/2, 2*mib)
	add("sort", lines, mib/2, 2*mib)
	add("sort -n -k1,1", lines, mib/2, 2*mib)
	add("sort -u -t= -k3", lines, mib/2, 2*mib)
	add("sort -cs -k99", lines, mib/2, 2*mib) // every line equal: the check reads on
	add("grep ERROR", lines, mib/2, 2*mib)
	add("grep -c -E 'took [0-9]+5ms'", lines, mib/2, 2*mib)
	add("grep -vi debug", lines, mib/2, 2*mib)
	add("grep -o 'u[0-9]*'", lines, mib/2, 2*mib)
	add("grep -cE '.{1000}x'", long, 256<<10, 1*mib)
	add("grep -E 'b.{999}x'", long, 256<<10, 1*mib)
	add("grep -oE 'a.{999}x'", long, 256<<10, 1*mib)
	add("grep -wE 'b.{999}x'", long, 256<<10, 1*mib)
	add("grep -xE '(a|b)*x(a|b){1000}'", long, 256<<10, 1*mib)
	// a keyword set (grep's kwset.go): a search of lines, and -o where
	// each 'a' matches but a keyword under way (a 3,000-byte one) makes
	// the search for the longest read on: seconds a line
	var kws strings.Builder
	for i := range 24 {
		fmt.Fprintf(&kws, " -e kw%d", i)
	}
	add("grep -F -e ERROR"+kws.String(), lines, mib/2, 2*mib)
	aLine := slices.Concat(bytes.Repeat([]byte("a"), 64<<10), []byte("\n"))
	add("grep -oF -e a -e "+strings.Repeat("a", 3000)+"b"+kws.String(), aLine, 256<<10, 1*mib)
	// the flags added since: sort's orders, -m, -z; grep's \< \>, -a -I
	add("sort -m -u", lines, mib/2, 2*mib)
	add("sort -z -d", bytes.ReplaceAll(lines, []byte("\n"), []byte{0}), mib/2, 2*mib)
	add("sort -V -k4", lines, mib/2, 2*mib)
	add("sort -h -k1,1", lines, mib/2, 2*mib)
	add("sort -M -b -k2", lines, mib/2, 2*mib)
	add("grep -aI -o '\\<u[0-9]*\\>'", lines, mib/2, 2*mib)
	add("grep -c -E '(\\<re|ms\\>)+'", lines, mib/2, 2*mib)
	// grep's after-context pending at the block with a NUL is printed
	// from the blocks after it; past -m, whatever their lines hold
	ctxBin := slices.Concat([]byte("ERROR\n"), bytes.Repeat([]byte("y\n"), 100<<10), bytes.Repeat([]byte("x\x00\n"), 1000))
	add("grep -m1 -A 999999999999 ERROR", ctxBin, mib/2, 2*mib)
	add("head -n -5 - -", lines, mib/2, 2*mib)
	add("tac - -", lines, mib/2, 2*mib)
	// a sort that holds everything and sorts it in memory after the end
	cs = append(cs, cancelCase{text: "sort -f", block: lines, after: mib, size: 8 * mib, cfg: big})
	cs = append(cs, cancelCase{text: "sort -s -k2,2 -k1,1n", block: lines, after: mib, size: 8 * mib, cfg: big})
	cs = append(cs, cancelCase{text: "tac", block: lines, after: mib, size: 8 * mib, cfg: big})
	cs = append(cs, cancelCase{text: "sort -V", block: lines, after: mib, size: 8 * mib, cfg: big})
	cs = append(cs, cancelCase{text: "sort -h -r", block: lines, after: mib, size: 8 * mib, cfg: big})
	return cs
}

// TestCancelEveryCommand cancels every command while it works, on an
// input that never ends (so the only way out is to notice the cancel) and
// on one whose end came just before the cancel (so the stage is busy
// with what it holds: sorting, reversing, matching long lines). The
// stage must return, with the context's error when the input never ends;
// the time from the cancel to the return is logged (the goal is 100 ms;
// the test asserts only that it returns, within the test's deadline).
func TestCancelEveryCommand(t *testing.T) {
	t.Parallel()
	cases := cancelCases()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[strings.Fields(c.text)[0]] = true
	}
	for _, cmd := range builtin.Registry().Commands() {
		if !covered[cmd.Name] {
			t.Errorf("%s: no cancel case", cmd.Name)
		}
	}
	// generous: the machine may be slow and shared; what matters is that
	// the stage returns at all
	wait := testenv.Timeout(t) / 2
	var (
		mu    sync.Mutex
		worst = map[string]time.Duration{}
	)
	for _, c := range cases {
		for _, endless := range []bool{true, false} {
			name := c.text + map[bool]string{true: " (endless)", false: " (after the end)"}[endless]
			t.Run(name, func(t *testing.T) {
				e := computetest.Engine(c.cfg)
				p, err := e.Compile(c.text)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var canceledAt time.Time
				var once sync.Once
				in := &cancelInput{block: c.block, limit: -1, after: c.after, cancel: func() {
					once.Do(func() { canceledAt = time.Now() })
					cancel()
				}}
				if !endless {
					in.limit, in.after = c.size, c.size
				}
				done := make(chan error, 1)
				go func() { done <- p.Stages[0].Run(ctx, in, computetest.Discard{}) }()
				select {
				case err = <-done:
				case <-time.After(wait):
					t.Fatalf("still running %v after it started", wait.Round(time.Second))
				}
				returned := time.Now()
				if !in.started {
					in.cancel() // it finished without reading it all
				}
				<-ctx.Done()
				took := max(returned.Sub(canceledAt), 0)
				if endless && !errors.Is(err, context.Canceled) {
					t.Fatalf("returned %v on an endless input; want the cancel", err)
				}
				if !endless && err != nil && !errors.Is(err, context.Canceled) {
					t.Fatalf("returned %v", err)
				}
				mu.Lock()
				worst[name] = took
				mu.Unlock()
			})
		}
	}
	names := make([]string, 0, len(worst))
	for n := range worst {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(worst[b] - worst[a]) })
	for i, n := range names {
		if i == 12 {
			break
		}
		t.Logf("cancel to return: %v %s", worst[n].Round(time.Microsecond), n)
	}
}
