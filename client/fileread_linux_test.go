package client

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// writeTemp writes n pseudo-random bytes to a file and opens it.
func writeTemp(t *testing.T, n int) ([]byte, *os.File) {
	t.Helper()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	name := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return data, f
}

// readChunks reads r as sendChunks does: io.ReadFull into chunks of size.
func readChunks(t *testing.T, r io.Reader, size int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, size)
	for {
		n, err := io.ReadFull(r, buf)
		got = append(got, buf[:n]...)
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return got
		default:
			t.Fatalf("read: %v", err)
		}
	}
}

func TestInputReaderOnlyWrapsRegularFiles(t *testing.T) {
	_, f := writeTemp(t, 10)
	if _, ok := inputReader(f).(*nowaitFile); !ok {
		t.Errorf("a regular file is read as %T, want *nowaitFile", inputReader(f))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if r := inputReader(pr); r != io.Reader(pr) {
		t.Errorf("a pipe is read as %T, want the *os.File itself", r)
	}
	br := bytes.NewReader(nil)
	if r := inputReader(br); r != io.Reader(br) {
		t.Errorf("a bytes.Reader is read as %T", r)
	}
}

// TestNowaitFileReadsTheFile reads files of sizes around the chunk
// size with the real preadv2, from the file's offset on (as stdin
// redirected from a file after a seek).
func TestNowaitFileReadsTheFile(t *testing.T) {
	const chunk = 64 << 10
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 5*chunk + 77} {
		data, f := writeTemp(t, n)
		skip := min(n, 3)
		if _, err := f.Seek(int64(skip), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		r := inputReader(f).(*nowaitFile)
		var calls int
		r.pread = func(fd uintptr, p []byte) (int, syscall.Errno) { calls++; return preadNowait(fd, p) }
		got := readChunks(t, r, chunk)
		if !bytes.Equal(got, data[skip:]) {
			t.Errorf("%d bytes from %d: read %d bytes, not the file's", n, skip, len(got))
		}
		if r.off {
			t.Logf("this kernel refuses RWF_NOWAIT here: read with read(2)")
		} else if calls == 0 && n > skip {
			t.Errorf("%d bytes: preadv2 never called", n)
		}
		// EOF stays EOF, as for os.File.
		if k, err := r.Read(make([]byte, 10)); k != 0 || err != io.EOF {
			t.Errorf("%d bytes: read after the end = %d, %v; want 0, EOF", n, k, err)
		}
	}
}

// TestNowaitFileFallsBack checks each error of preadv2: EAGAIN reads
// that chunk with read(2) and tries preadv2 again next time; a refused
// flag turns it off for good; EINTR retries; any other error goes to
// os.File's read. A fake preadv2 reads with pread(2) at the file's
// offset, as the real one does, except when told to fail.
func TestNowaitFileFallsBack(t *testing.T) {
	const chunk = 4096
	for _, tc := range []struct {
		errno     syscall.Errno
		failEvery int  // fail every failEvery-th call
		wantOff   bool // turned off after the first failure
	}{
		{syscall.EAGAIN, 2, false},
		{syscall.EAGAIN, 1, false},
		{syscall.EOPNOTSUPP, 3, true},
		{syscall.EINVAL, 1, true},
		{syscall.ENOSYS, 1, true},
		{syscall.EINTR, 2, false},
		{syscall.EIO, 2, false},
	} {
		data, f := writeTemp(t, 10*chunk+5)
		r := inputReader(f).(*nowaitFile)
		calls, fails, preadBytes := 0, 0, 0
		r.pread = func(fd uintptr, p []byte) (int, syscall.Errno) {
			calls++
			if calls%tc.failEvery == 0 {
				fails++
				return 0, tc.errno
			}
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				t.Fatal(err)
			}
			n, err := syscall.Pread(int(fd), p, off)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(int64(n), io.SeekCurrent); err != nil {
				t.Fatal(err)
			}
			preadBytes += n
			return n, 0
		}
		got := readChunks(t, r, chunk)
		if !bytes.Equal(got, data) {
			t.Errorf("%v every %d: read %d bytes, not the file's %d", tc.errno, tc.failEvery, len(got), len(data))
		}
		if r.off != tc.wantOff {
			t.Errorf("%v: off = %v, want %v", tc.errno, r.off, tc.wantOff)
		}
		if tc.errno == syscall.EINTR && preadBytes != len(data) {
			t.Errorf("EINTR: %d of %d bytes read by preadv2, want all (an interrupted call is retried)", preadBytes, len(data))
		}
		if tc.wantOff && fails != 1 {
			t.Errorf("%v: preadv2 failed %d times, want once (then off)", tc.errno, fails)
		}
		if !tc.wantOff && calls < 11 {
			t.Errorf("%v every %d: preadv2 called %d times, want it tried for every chunk", tc.errno, tc.failEvery, calls)
		}
	}
}

// TestNowaitFileClosed: a read of a closed file is os.File's error.
func TestNowaitFileClosed(t *testing.T) {
	_, f := writeTemp(t, 100)
	r := inputReader(f)
	f.Close()
	if _, err := r.Read(make([]byte, 10)); err == nil || err == io.EOF {
		t.Errorf("read of a closed file: %v, want an error", err)
	}
}
