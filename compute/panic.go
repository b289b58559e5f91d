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

// HelperPanic is a panic recovered on a helper goroutine whose owner
// cannot take an error from it (a hash's helpers: hash.Hash.Write never
// fails). The helper records it and goes on with its protocol (so the
// owner never waits for it in vain); the owner panics again with it on
// its own goroutine, where its stage's or its job's recover fails the job
// (Panicked, whose cause then holds both stacks).
type HelperPanic struct {
	Value any
	Stack []byte // the helper's, where it panicked
}

// NewHelperPanic is the HelperPanic of v, recovered by the deferred
// function that calls it.
func NewHelperPanic(v any) *HelperPanic {
	return &HelperPanic{Value: v, Stack: debug.Stack()}
}

func (p *HelperPanic) Error() string {
	return fmt.Sprintf("%v (on a helper goroutine)\n%s", p.Value, p.Stack)
}
