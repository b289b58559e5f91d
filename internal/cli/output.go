package cli

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Stdout is a program's standard output: an error of its writes is an
// *OutputError, which the programs report as GNU's tools do, whatever
// the mode that wrote (a pipeline's output, FILE digests, -c's lines,
// --help).
type Stdout struct{ W io.Writer }

func (o *Stdout) Write(p []byte) (int, error) {
	n, err := o.W.Write(p)
	if err != nil {
		err = &OutputError{err}
	}
	return n, err
}

// OutputError is a failed write to standard output.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return writeErrorMessage(e.Err) }
func (e *OutputError) Unwrap() error { return e.Err }

// writeErrorMessage is what GNU's tools print for a failed write to
// standard output (close_stdout: "write error: " and strerror's words,
// "cat: write error: No space left on device" for >/dev/full), where
// os.File says "write /dev/stdout: no space left on device". Outside the
// errno values of the system the error's own words.
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

// PrintOut runs print, which writes to stdout and may ignore the errors
// of its writes (Spec.Usage does), and returns the exit status: 0, or 1
// after GNU's words when a write to stdout failed (GNU's --help and
// --version exit 1 so: "cat: write error: No space left on device" for
// >/dev/full), or 2 after print's own error (--generate's unknown kind).
// Messages on stderr start with prog and ": ".
func PrintOut(prog string, stdout, stderr io.Writer, print func(io.Writer) error) int {
	if _, ok := stdout.(*Stdout); !ok {
		stdout = &Stdout{stdout}
	}
	w := &firstErrWriter{w: stdout}
	err := print(w)
	if w.err != nil {
		err = w.err
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	var oe *OutputError
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
