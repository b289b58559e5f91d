package client

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// errFileChanged marks an input file whose size or modification time
// changed while it was read: the bytes sent are neither the file as it was
// nor as it is, and a result over them is no one's digest.
type errFileChanged struct{ before, after os.FileInfo }

func (e *errFileChanged) Error() string {
	if e.before.Size() != e.after.Size() {
		return fmt.Sprintf("the file changed while it was read (its size went from %d to %d bytes)", e.before.Size(), e.after.Size())
	}
	return "the file changed while it was read (it was modified)"
}

// unchangedReader reads a regular file and, at its end, checks that the
// file still has the size and modification time it had before the first
// read. A file that grew, shrank or was rewritten during the upload is
// then an error, not an end: the call is aborted instead of answered from
// bytes that were never the file's content at any one time. (GNU's tools
// read such a file to whatever end they meet; tar says "file changed as
// we read it".)
type unchangedReader struct {
	r      io.Reader
	stat   func() (os.FileInfo, error)
	before os.FileInfo
}

// checkUnchanged wraps r when it reads a regular file (it has a Stat
// method and Stat says so); any other reader is returned as it is.
func checkUnchanged(r io.Reader) io.Reader {
	f, ok := r.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return r
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return r
	}
	return &unchangedReader{r: r, stat: f.Stat, before: st}
}

func (u *unchangedReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != io.EOF {
		return n, err
	}
	after, serr := u.stat()
	if serr != nil {
		return n, serr
	}
	if after.Size() != u.before.Size() || !after.ModTime().Equal(u.before.ModTime()) {
		return n, &errFileChanged{before: u.before, after: after}
	}
	return n, io.EOF
}

// IsInputError reports whether err is a failure to read the caller's
// input, for which the call was aborted (a read error, an error wrapping
// io.EOF, io.ErrNoProgress, a Read count out of range, a file that
// changed while it was read), not a failure of the server or the
// connection: a caller reading several files can report it for that
// file, as GNU's tools do, and go on with the next.
func IsInputError(err error) bool {
	var re *readError
	return errors.As(err, &re) || errors.Is(err, errReadInput)
}
