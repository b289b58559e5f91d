package main

import (
	"errors"
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
