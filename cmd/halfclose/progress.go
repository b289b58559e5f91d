package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Progress is shown for an upload of at least progressThreshold bytes
// (known from the file's size, or once that much of a pipe has been read)
// when stderr is a terminal, stdin is not, CI is unset and TERM is not
// "dumb"; always with --progress, never with --progress=false.
const progressThreshold = 32 << 20

// Redraw intervals: on a terminal the line is redrawn in place; elsewhere
// (--progress into a file or pipe) a line is printed now and then.
const (
	ttyInterval  = 200 * time.Millisecond
	lineInterval = 2 * time.Second
)

// progressMode is what the flags and the environment decide.
type progressMode struct {
	force, never bool
	tty          bool // stderr is a terminal: redraw in place
	auto         bool // show large uploads
	width        int  // terminal columns (0: unknown)
}

// decideProgress applies --progress and the environment.
func decideProgress(flag autoBool, stdin io.Reader, stderr io.Writer) progressMode {
	m := progressMode{}
	if fd, ok := fdOf(stderr); ok && isTerminal(fd) {
		m.tty = true
		m.width = termWidth(fd)
	}
	switch {
	case flag.set && flag.on:
		m.force = true
	case flag.set:
		m.never = true
	default:
		stdinTTY := false
		if fd, ok := fdOf(stdin); ok {
			stdinTTY = isTerminal(fd)
		}
		m.auto = m.tty && !stdinTTY && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb"
	}
	return m
}

func fdOf(x any) (int, bool) {
	f, ok := x.(*os.File)
	if !ok || f == nil {
		return 0, false
	}
	return int(f.Fd()), true
}

// inputSize is the number of bytes left in r when it is a regular file,
// or -1.
func inputSize(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return -1
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	return max(0, st.Size()-off)
}

// progress counts an upload's bytes and draws them on stderr.
type progress struct {
	mode  progressMode
	w     io.Writer
	label string // file name, or "" for stdin
	total int64  // -1: unknown
	start time.Time

	// n counts the bytes read. Read only adds to it: the drawing (which
	// may wait on a slow terminal) is done by loop, so it never holds up
	// the upload.
	n atomic.Int64

	mu       sync.Mutex // protects shown, stopped and writes to w
	shown    bool       // a line is on the screen (tty) or was printed
	stopped  bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// track wraps a call's input and output so that its upload is shown per
// mode: the line goes when the input ends, when output starts, or at the
// latest when the returned function is called. Nothing is wrapped when
// nothing will be shown.
func (m progressMode) track(in io.Reader, out, stderr io.Writer, label string) (io.Reader, io.Writer, func()) {
	if m.never || !m.force && !m.auto {
		return in, out, func() {}
	}
	total := inputSize(in)
	if !m.force && total >= 0 && total < progressThreshold {
		return in, out, func() {}
	}
	p := &progress{mode: m, w: stderr, label: label, total: total, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if m.force || total >= progressThreshold {
		p.show()
	}
	go p.loop()
	pr := &progressReader{r: in, p: p}
	if total >= 0 {
		// The client sends a regular file with its size declared (the
		// TCP adapter's @size): keep that known.
		return &sizedProgressReader{pr}, &progressWriter{w: out, p: p}, p.finish
	}
	return pr, &progressWriter{w: out, p: p}, p.finish
}

// sizedProgressReader is a progressReader over a file of known size: Len
// says how many bytes are left, as bytes.Reader's does.
type sizedProgressReader struct{ *progressReader }

func (r *sizedProgressReader) Len() int { return int(max(0, r.p.total-r.p.n.Load())) }

type progressReader struct {
	r io.Reader
	p *progress
}

// Stat is the input's, when it has one: the client tells the server that
// a regular file is the input (wc's widths), whether or not progress is
// shown.
func (r *progressReader) Stat() (os.FileInfo, error) {
	if f, ok := r.r.(interface{ Stat() (os.FileInfo, error) }); ok {
		return f.Stat()
	}
	return nil, errors.New("not a file")
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.p.n.Add(int64(n))
	}
	if err != nil {
		r.p.finish()
	}
	return n, err
}

// progressWriter erases the line before the first output.
type progressWriter struct {
	w io.Writer
	p *progress
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.p.finish()
	return w.w.Write(b)
}

// show draws the first line at once, so that even a quick upload shows
// one.
func (p *progress) show() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked(false)
}

func (p *progress) loop() {
	defer close(p.done)
	interval := ttyInterval
	if !p.mode.tty {
		interval = lineInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.shown || p.n.Load() >= progressThreshold {
				p.drawLocked(false)
			}
			p.mu.Unlock()
		}
	}
}

// finish stops the redraws: on a terminal the line is drawn once more,
// complete (also when a large pipe ended before the first redraw), and
// erased, so the command's output starts on a clean line;
// elsewhere a last line is printed.
func (p *progress) finish() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	if p.shown || p.n.Load() >= progressThreshold {
		p.drawLocked(true)
		if p.mode.tty {
			io.WriteString(p.w, "\r\x1b[K")
		}
	}
}

// drawLocked writes the line: on a terminal over the previous one.
func (p *progress) drawLocked(final bool) {
	p.shown = true
	line := p.lineLocked(final)
	if p.mode.tty {
		if p.mode.width > 1 && len(line) >= p.mode.width {
			// Cut by bytes (no wider than the columns, for characters
			// of two columns too), but not inside a UTF-8 character of
			// the file's name, which left a broken byte on the screen.
			cut := p.mode.width - 1
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			line = line[:cut]
		}
		io.WriteString(p.w, "\r"+line+"\x1b[K")
		return
	}
	io.WriteString(p.w, "halfclose: "+line+"\n")
}

// lineLocked is "LABEL: 1.2 GiB / 2.0 GiB  61%  180.3 MiB/s  ETA 5s"; with
// an unknown size, "LABEL: 1.2 GiB  180.3 MiB/s".
func (p *progress) lineLocked(final bool) string {
	elapsed := time.Since(p.start)
	var b strings.Builder
	if p.label != "" {
		b.WriteString(p.label + ": ")
	}
	n := p.n.Load()
	b.WriteString(humanBytes(n))
	if p.total >= 0 {
		pct := 100
		if p.total > 0 {
			pct = int(min(n, p.total) * 100 / p.total)
		}
		fmt.Fprintf(&b, " / %s  %3d%%", humanBytes(p.total), pct)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	fmt.Fprintf(&b, "  %s/s", humanBytes(int64(rate)))
	switch {
	case final:
		fmt.Fprintf(&b, "  in %s", roundDuration(elapsed))
	case p.total >= 0 && rate > 0 && n > 0:
		left := time.Duration(float64(max(0, p.total-n)) / rate * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", roundDuration(left))
	}
	return b.String()
}

// humanBytes prints n in binary units with one decimal: "512 B",
// "1.5 KiB", "2.0 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// roundDuration rounds to what a person reads: 0.4s, 7s, 1m05s, 2h03m.
func roundDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		if d < time.Minute {
			return d.String()
		}
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
