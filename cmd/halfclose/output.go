package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// outWriter is the CLI's standard output: an error of its writes is an
// outputError, which every mode (a pipeline's output, FILE digests, -c's
// lines) reports as GNU's tools do.
type outWriter struct{ w io.Writer }

func (o *outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		err = &outputError{err}
	}
	return n, err
}

// outputError is a failed write to standard output.
type outputError struct{ err error }

func (e *outputError) Error() string { return writeErrorMessage(e.err) }
func (e *outputError) Unwrap() error { return e.err }

// writeErrorMessage is what GNU's tools print for a failed write to
// standard output (close_stdout: "write error: " and strerror's words,
// "sha256sum: write error: No space left on device" for >/dev/full):
// it said "write /dev/stdout: no space left on device", os.File's
// words. Outside the errno values of the system the error's own words.
func writeErrorMessage(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		r, n := utf8.DecodeRuneInString(s)
		return "write error: " + string(unicode.ToUpper(r)) + s[n:]
	}
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return "write error: " + pe.Unwrap().Error()
	}
	return "write error: " + err.Error()
}

// printOut runs print, which writes to stdout and may ignore the errors
// of its writes (--help's Usage does), and returns the exit status: 0, or
// 1 after GNU's words when a write to stdout failed (GNU's --help and
// --version exit 1 so: "cat: write error: No space left on device" for
// >/dev/full; they exited 0 and said nothing), or 2 after print's own
// error (--generate's unknown kind).
func printOut(stdout, stderr io.Writer, print func(io.Writer) error) int {
	w := &firstErrWriter{w: stdout}
	err := print(w)
	if w.err != nil {
		err = w.err
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "halfclose:", err)
	var oe *outputError
	if errors.As(err, &oe) {
		return 1
	}
	return 2
}

// firstErrWriter writes to w until a write fails, and keeps that error.
type firstErrWriter struct {
	w   io.Writer
	err error
}

func (f *firstErrWriter) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.w.Write(p)
	f.err = err
	return n, err
}
