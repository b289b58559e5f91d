package compute

import (
	"fmt"
	"runtime/debug"
)

// Panicked is the error a panic recovered on a job's goroutine becomes: a
// server fault (CodeInternal) that fails that job alone, with the panic
// and its stack as the cause, for the log. Call it in the deferred
// function that recovered v, so the stack is the panicking goroutine's.
//
// Every goroutine a job starts (a stage's helpers, read-ahead, write-
// behind) recovers with it: a panic that reaches the top of a goroutine
// ends the process, with every job in it, and nothing on another
// goroutine can recover it.
func Panicked(where string, v any) error {
	return Internal("internal error", fmt.Errorf("%s panic: %v\n%s", where, v, debug.Stack()))
}

// Recover, deferred, turns a panic of the function that defers it into
// *err (Panicked): `defer compute.Recover("sort", &err)`.
func Recover(where string, err *error) {
	if v := recover(); v != nil {
		*err = Panicked(where, v)
	}
}
