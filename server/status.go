// Package server holds halfclose's adapters: the gRPC ComputeService and the
// raw-TCP adapter, both feeding the same engine.Engine, and what an
// operator needs around them.
package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
)

// errShuttingDown is returned to jobs that arrive while the server drains.
var errShuttingDown = compute.Errorf(compute.CodeUnavailable, "server is shutting down")

// codeOf maps any error a job can end with to a gRPC code: the one place
// where the core's typed errors become statuses.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var ce *compute.Error
	if errors.As(err, &ce) {
		switch ce.Code {
		case compute.CodeInvalid:
			return codes.InvalidArgument
		case compute.CodeResourceExhausted:
			return codes.ResourceExhausted
		case compute.CodeDataLoss:
			return codes.DataLoss
		case compute.CodeUnavailable:
			return codes.Unavailable
		case compute.CodeDeadline:
			return codes.DeadlineExceeded
		}
		return codes.Internal
	}
	var cre *connReadError
	switch {
	case errors.As(err, &cre), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// The client broke the connection (RST) mid-job: it cancelled.
		return codes.Canceled
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, io.ErrUnexpectedEOF):
		return codes.Canceled
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Internal
}

// toStatus turns a job's error into the status a client sees. Messages of
// the core's errors are made for clients; anything else is internal and
// gets a generic message, with the detail in the log.
func toStatus(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	code := codeOf(err)
	var ce *compute.Error
	switch {
	case errors.As(err, &ce) && ce.Code != compute.CodeInternal:
		return status.Error(code, ce.Msg)
	case code == codes.Internal:
		log.Error("internal error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	switch code {
	case codes.Canceled:
		return status.Error(code, "canceled")
	case codes.DeadlineExceeded:
		return status.Error(code, "deadline exceeded")
	}
	return status.Error(code, err.Error())
}

// outcome names how a job ended, for logs and metrics: one of the Outcome*
// values of metrics.go. A broken connection (RST, a read or write error) on
// the raw-TCP adapter is OutcomeReset; an idle or header timeout is
// OutcomeIdle; an end of input without its promised proof is
// OutcomeAborted (its code is DATA_LOSS).
func outcome(err error) string {
	if errors.Is(err, errUnprovenEnd) {
		return OutcomeAborted
	}
	code := codeOf(err)
	if code != codes.DeadlineExceeded && isConnBroken(err) {
		return OutcomeReset
	}
	return OutcomeForCode(code)
}
