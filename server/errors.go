package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/codename"
	"github.com/halfclose/halfclose/internal/sockerr"
)

// errShuttingDown is the error of a job the server stopped when its
// shutdown grace was over.
var errShuttingDown = compute.Errorf(compute.CodeUnavailable, "server is shutting down")

// errReaderClosed is what the input's Read returns after Close; the job's
// error is the failure that made the engine close it.
var errReaderClosed = errors.New("input closed")

// connReadError marks an error from reading a TCP client: an abort (RST,
// idle timeout, broken connection) after which nothing is written.
type connReadError struct{ err error }

func (e *connReadError) Error() string { return e.err.Error() }
func (e *connReadError) Unwrap() error { return e.err }

func isConnReadError(err error) bool {
	if err == nil { // errors.As's target escapes: no allocation when there is nothing to find
		return false
	}
	var e *connReadError
	return errors.As(err, &e)
}

// isConnBroken reports a connection the client broke or lost: a read
// error, a reset, a write to a closed peer, or a send failed for the
// connection or the path to its peer (sockerr.Peer: a write that timed
// out unacknowledged, an unreachable peer). A reply the server could not
// deliver for such an error is the client's loss, outcome reset, not a
// server fault; a spill file's errors are compute.SpoolError by then.
func isConnBroken(err error) bool {
	return isConnReadError(err) || sockerr.Peer(err)
}

// errIdle is the abort of a client that sent nothing for d.
func errIdle(d time.Duration) error {
	return compute.Errorf(compute.CodeDeadline, "no input for %s (idle timeout)", d)
}

// verdict is how a job ended, as a client is told: a gRPC status code and
// a message made for clients. It is the one classification both adapters
// use; gRPC sends it as a status, TCP as its error line.
type verdict struct {
	code codes.Code
	msg  string
	// internal marks a server fault: the error is logged, at error
	// level, where the verdict is given. msg is generic, but for a
	// spill file's failure (compute.SpoolError), which names the spool.
	internal bool
}

// classify maps any error a job can end with to its verdict:
//   - the core's errors (compute.Error) by their code, with their message;
//   - context errors: CANCELED, DEADLINE_EXCEEDED;
//   - a client that broke its connection: CANCELED;
//   - a status from the transport: as it is;
//   - anything else, and the core's CodeInternal: INTERNAL "internal error".
//
// A job stopped by the server's shutdown has errShuttingDown already (the
// lifecycle sees to it): UNAVAILABLE.
func classify(err error) verdict {
	if err == nil {
		return verdict{code: codes.OK}
	}
	var ce *compute.Error
	if errors.As(err, &ce) {
		if c, ok := coreCodes[ce.Code]; ok {
			return verdict{code: c, msg: clientMessage(ce.Msg), internal: ce.Fault}
		}
		return internalVerdict
	}
	switch {
	case isConnBroken(err), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		// A client that reset its connection mid-job cancelled it.
		return verdict{code: codes.Canceled, msg: "canceled"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return verdict{code: codes.DeadlineExceeded, msg: "deadline exceeded"}
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Internal {
		return verdict{code: s.Code(), msg: clientMessage(s.Message())}
	}
	return internalVerdict
}

// maxMessageBytes bounds the message of a verdict. A message may quote a
// word of the request (an unknown command or flag, a pattern), which the
// pipeline text lets be 64 KiB long; a gRPC client with a metadata limit
// failed such a call with INTERNAL instead of its code (grpcio's 8 KiB:
// "Received RST_STREAM with error code 2"). A longer message is cut at a
// character's start and ends in "…", as a diagnostic line is cut at
// compute.MaxDiagnosticBytes. The "…" is within the bound, as
// docs/protocol.md says (it was after 1024 bytes: a message of 1027).
const maxMessageBytes = 1024

// clientMessage is msg cut to maxMessageBytes, its "…" included.
func clientMessage(msg string) string {
	if len(msg) <= maxMessageBytes {
		return msg
	}
	const ellipsis = "…"
	return msg[:runeCut(msg, maxMessageBytes-len(ellipsis))] + ellipsis
}

// runeCut is where to cut s, longer than n bytes, to keep at most n
// without splitting a character: n, or the start of the character n
// falls inside. A byte that is not UTF-8 is a character of its own.
func runeCut(s string, n int) int {
	for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if _, size := utf8.DecodeRuneInString(s[i:]); i+size > n {
				return i
			}
			return n
		}
	}
	return n
}

var internalVerdict = verdict{code: codes.Internal, msg: "internal error", internal: true}

// coreCodes are the gRPC codes of the core's error codes; CodeInternal is
// not among them (its message is not for clients).
var coreCodes = map[compute.Code]codes.Code{
	compute.CodeInvalid:           codes.InvalidArgument,
	compute.CodeResourceExhausted: codes.ResourceExhausted,
	compute.CodeDataLoss:          codes.DataLoss,
	compute.CodeUnavailable:       codes.Unavailable,
	compute.CodeDeadline:          codes.DeadlineExceeded,
}

// codeOf is the gRPC code of a job's error.
func codeOf(err error) codes.Code { return classify(err).code }

// toStatus is a job's verdict as the status a gRPC client sees; a server
// fault is logged with its detail.
func toStatus(log *slog.Logger, err error) error {
	v := classify(err)
	if v.code == codes.OK {
		return nil
	}
	if v.internal {
		log.Error("internal error", "err", logDetail(err))
	}
	return status.Error(v.code, v.msg)
}

// logDetail is err as the log shows it: a server fault with its cause,
// which compute.Error keeps out of the client's message (the core's
// CodeInternal: "internal error"; a spill file's failure, whatever its
// code: "spool: no space left for spill files on the server: write
// failed: write /spool/...: no space left on device"); any other error
// as it is.
func logDetail(err error) string {
	var ce *compute.Error
	if errors.As(err, &ce) && (ce.Code == compute.CodeInternal || ce.Fault) && ce.Err != nil {
		return err.Error() + ": " + ce.Err.Error()
	}
	return err.Error()
}

// errorLine is a job's verdict as the raw-TCP adapter's error line.
func (v verdict) errorLine() string {
	return "halfclose: error: " + codename.Of(v.code) + ": " + strings.ReplaceAll(v.msg, "\n", " ") + "\n"
}

// outcome names how a job ended, for logs and metrics: one of the Outcome*
// values of metrics.go. A broken connection (RST, a read or write error) on
// the raw-TCP adapter is OutcomeReset; an idle or header timeout is
// OutcomeIdle; an end of input without its promised proof is
// OutcomeAborted (its code is DATA_LOSS).
func outcome(err error) string {
	if err == nil {
		return OutcomeOK
	}
	if errors.Is(err, errUnprovenEnd) {
		return OutcomeAborted
	}
	if compute.IsFault(err) {
		// The server's own failure (its spool's disk), whatever code
		// told the client: what an operator must see.
		return OutcomeInternal
	}
	code := codeOf(err)
	if code != codes.DeadlineExceeded && isConnBroken(err) {
		return OutcomeReset
	}
	return OutcomeForCode(code)
}
