package compute

import (
	"errors"
	"fmt"
)

// Code classifies a compute error so that each adapter can map it to its own
// vocabulary (a gRPC status code, the TCP adapter's error line) in one place.
type Code int

const (
	// CodeInvalid is a bad request: pipeline syntax, unknown command or flag,
	// malformed header, or input the command rejects (e.g. bad base64).
	CodeInvalid Code = iota + 1
	// CodeResourceExhausted is a limit hit: input size, jobs, spool.
	CodeResourceExhausted
	// CodeDataLoss is a declared size or digest that does not match.
	CodeDataLoss
	// CodeUnavailable is a server that is shutting down.
	CodeUnavailable
	// CodeDeadline is an idle or header timeout.
	CodeDeadline
	// CodeInternal is a failure of the server itself (e.g. a broken
	// invariant). Its message is generic; details are logged. (A spill
	// file that cannot be written is not: SpoolError.)
	CodeInternal
)

// Error is the typed error of the compute core. Msg is safe to show to a
// client: short, naming the offending part, without internals. Err, when
// set, is the underlying cause for logs only.
type Error struct {
	Code Code
	Msg  string
	Err  error
	// Fault marks a failure of the server's own (a spill file's, see
	// SpoolError) told to the client with another code than
	// CodeInternal: logs and metrics count it as the server's fault.
	Fault bool
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Invalidf is Errorf(CodeInvalid, ...).
func Invalidf(format string, args ...any) error {
	return Errorf(CodeInvalid, format, args...)
}

// Exhaustedf is Errorf(CodeResourceExhausted, ...).
func Exhaustedf(format string, args ...any) error {
	return Errorf(CodeResourceExhausted, format, args...)
}

// Internal wraps a server-side failure: the client sees msg, the log sees err.
func Internal(msg string, err error) error {
	return &Error{Code: CodeInternal, Msg: msg, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
