package server

import (
	"context"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// ReloadInterval is how often a running server looks at its certificate,
// client CA and token files (Reloader.Run): a stat of each and a hash of
// its content (files of a few KiB), so a rotation is served within about
// a second and costs nothing per call.
const ReloadInterval = time.Second

// Reload file labels: the "file" label of halfclose_reloads_total.
const (
	ReloadCert     = "cert"      // --tls-cert and --tls-key, as a pair
	ReloadClientCA = "client_ca" // --tls-client-ca
	ReloadToken    = "token"     // --auth-token-file
)

// Reloader re-reads files that change under a running server (a renewed
// certificate, a Kubernetes Secret's symlink swap, a token added). Each
// watched item is a set of paths and a load function that parses and
// validates them as at start and swaps the result in only when it is good.
// A change is a path's stamp (following symlinks: device, inode, size,
// modification time and, for a regular file, a hash of its content; or
// the stat's error) differing from the last one seen; a look that could
// not read the content (too many open files) goes by the stat alone, and
// a pipe or a device is never read. A bad load keeps what is served and
// is logged once; it is tried again at every check until one is good,
// logged and counted again only when its error changes or the files
// change: a failure that is not the files' content (a permission fixed
// with chmod, which no stamp shows; too many open files) must not leave
// the old certificate served until the next renewal.
type Reloader struct {
	Log     *slog.Logger
	Metrics *Metrics // nil: no metrics
	// Flush, when set, is called after a Check that logged: a reload is
	// rare and worth seeing when it happens in a log written in batches.
	Flush func()

	mu    sync.Mutex // protects items (Check runs them one at a time)
	items []*reloadItem
}

type reloadItem struct {
	file  string // ReloadCert, ...
	paths []string
	seen  []fileStamp
	load  func() (attrs []any, err error)
	// failed is the error of the last load when it failed ("" when it
	// was good): the item is loaded at every check until it is good.
	failed string
}

// fileStamp is what a stat and a read say of a path; equal stamps mean
// unchanged.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    int64
	// sum hashes the content (its first maxStampBytes): a file rewritten
	// in place with the same size and modification time (a write within
	// the file system's timestamp granularity of the last look, a copy
	// or an archive that keeps the old time) has a new content, which a
	// stat does not show: such a token file went on being refused until
	// its next change.
	sum uint64
	// unread: the content could not be read (an open or a read that
	// failed: too many open files, a permission, an I/O error), sum is 0
	// and the stat alone tells a change (sameStat).
	unread bool
	err    string
}

// sameStat reports whether s and t say the same of their paths but,
// maybe, the content.
func (s fileStamp) sameStat(t fileStamp) bool {
	return s.dev == t.dev && s.ino == t.ino && s.size == t.size && s.mtime == t.mtime && s.err == t.err
}

// changedFrom reports whether s, a new look, shows a change from seen. A
// look that could not read the content shows none unless the stat
// differs: too many open files at one look and not at the next made two
// loads, a failure logged and counted and then a reload, of a file nobody
// touched.
func (s fileStamp) changedFrom(seen fileStamp) bool {
	if s.unread {
		return !s.sameStat(seen)
	}
	return s != seen
}

// maxStampBytes bounds the content a stamp hashes: certificates, keys,
// CA bundles (Mozilla's: about 220 KiB) and token files are far smaller,
// and a wrong path (a log, a binary) costs no more than this a look. A
// larger file's change past its first maxStampBytes shows in its stat
// alone.
const maxStampBytes = 1 << 20

// stampSeed seeds the stamps' hash: one per process, as stamps are
// compared within one.
var stampSeed = maphash.MakeSeed()

// statStamp stamps the file at path: its stat and, for a regular file
// that opens, a hash of its content.
func statStamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{err: err.Error()}
	}
	if fi.Mode()&os.ModeNamedPipe != 0 {
		// A pipe (--auth-token-file=<(...): /dev/fd/N; a named one) is
		// read once, at start, and never by a look: a look read its
		// content before the load, which found it empty, and waited in
		// open(2) for a named pipe's writer. Its writes are no change:
		// they set its modification time, and the load that followed
		// waited for a writer in open(2) for ever, holding every later
		// look and the shutdown. Another file put at the path is.
		dev, ino := fileID(fi)
		return fileStamp{dev: dev, ino: ino}
	}
	if !fi.Mode().IsRegular() {
		// A device, a directory: never opened nor read.
		return stampOf(fi)
	}
	// The open file's stat and content, so that both are of the same
	// file when the path is swapped between the two; O_NONBLOCK (on
	// Unix) so that not even a pipe swapped in then holds the open.
	f, err := openNoWait(path)
	if err != nil {
		st := stampOf(fi)
		st.unread = true
		return st
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil || !ofi.Mode().IsRegular() {
		st := stampOf(fi)
		st.unread = true
		return st
	}
	st := stampOf(ofi)
	var h maphash.Hash
	h.SetSeed(stampSeed)
	var buf [4096]byte // io.Copy's 32 KiB, made at each look, was most of its cost
	for left := maxStampBytes; left > 0; {
		n, err := f.Read(buf[:min(left, len(buf))])
		h.Write(buf[:n])
		left -= n
		if err == io.EOF {
			break
		}
		if err != nil {
			st.unread = true // an I/O error: the stat tells, and the next look reads again
			return st
		}
	}
	st.sum = h.Sum64()
	return st
}

// stampOf is the stamp of fi's stat alone.
func stampOf(fi os.FileInfo) fileStamp {
	dev, ino := fileID(fi)
	return fileStamp{dev: dev, ino: ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// FileStamps is what stamps said of some files at one moment: taken
// before the files are first read (Stamps), so that a change landing
// between that read and Watch is seen at the first Check.
type FileStamps struct{ s []fileStamp }

// Stamps stamps paths now.
func Stamps(paths ...string) FileStamps {
	st := FileStamps{s: make([]fileStamp, len(paths))}
	for i, p := range paths {
		st.s[i] = statStamp(p)
	}
	return st
}

// Watch adds an item whose files were loaded after since was taken
// (Stamps of the same paths): a change is measured against since. load
// returns the attributes its INFO line adds, or an error naming the file
// and the problem.
func (r *Reloader) Watch(file string, paths []string, since FileStamps, load func() ([]any, error)) {
	if len(since.s) != len(paths) {
		since = Stamps(paths...)
	}
	it := &reloadItem{file: file, paths: paths, load: load, seen: since.s}
	r.mu.Lock()
	r.items = append(r.items, it)
	r.mu.Unlock()
}

// Check stamps every watched path once and reloads the items whose files
// changed, and those whose last load failed. It reports how many loads it
// logged, good or bad (a failure as the last one is not logged again).
func (r *Reloader) Check() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, it := range r.items {
		changed := false
		for i, p := range it.paths {
			// The stamp is taken before the read: a file still being
			// written when it is read changes again, and is read again.
			if s := statStamp(p); s.changedFrom(it.seen[i]) {
				it.seen[i] = s
				changed = true
			}
		}
		if !changed && it.failed == "" {
			continue
		}
		attrs, err := it.load()
		if err != nil {
			if !changed && err.Error() == it.failed {
				continue // logged and counted when it first failed
			}
			it.failed = err.Error()
		} else {
			it.failed = ""
		}
		n++
		r.Metrics.Reloaded(it.file, err)
		if r.Log == nil {
			continue
		}
		if err != nil {
			r.Log.Warn("reload failed: still serving the previous "+reloadWhat(it.file), "file", strings.Join(it.paths, ","), "err", err.Error())
			continue
		}
		r.Log.Info("reloaded "+reloadWhat(it.file), append([]any{"file", strings.Join(it.paths, ",")}, attrs...)...)
	}
	if n > 0 && r.Flush != nil {
		r.Flush()
	}
	return n
}

func reloadWhat(file string) string {
	switch file {
	case ReloadCert:
		return "TLS certificate and key"
	case ReloadClientCA:
		return "TLS client CA"
	case ReloadToken:
		return "auth tokens"
	}
	return file
}

// Run calls Check every interval until ctx is done.
func (r *Reloader) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Check()
		}
	}
}
