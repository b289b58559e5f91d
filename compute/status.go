package compute

import (
	"context"
	"sync/atomic"
)

// A command's exit status, as a shell reports a pipeline's: the last
// command's. A stage that succeeds may still end with a status other than
// 0, as GNU grep ends with 1 when it selected no line; a failure is an
// error, never a status. The engine gives the last stage of a pipeline a
// context holding an ExitStatus; every other stage's context holds none,
// so what they report is dropped, as a shell drops the status of every
// command of a pipeline but the last.

// ExitStatus holds the status a pipeline's last stage reported.
type ExitStatus struct{ v atomic.Int32 }

// Get returns the status reported, 0 when none was.
func (s *ExitStatus) Get() int { return int(s.v.Load()) }

type exitStatusKey struct{}

// WithExitStatus returns a context whose stage's reported status s holds.
func WithExitStatus(ctx context.Context, s *ExitStatus) context.Context {
	return context.WithValue(ctx, exitStatusKey{}, s)
}

// SetExitStatus reports a stage's exit status (1 to 255) before its Run
// returns nil. It does nothing when ctx is not the last stage's.
func SetExitStatus(ctx context.Context, status int) {
	if s, ok := ctx.Value(exitStatusKey{}).(*ExitStatus); ok {
		s.v.Store(int32(status))
	}
}
