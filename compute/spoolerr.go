package compute

import (
	"errors"
	"fmt"
	"syscall"
)

// The client's messages of a spill file's failure. They name the spool,
// never its directory: the path and the system's reason go to the log
// (Error.Err).
const (
	msgSpoolFull        = "spool: no space left for spill files on the server"
	msgSpoolDescriptors = "spool: the server is out of file descriptors for spill files"
	msgSpoolUnusable    = "spool: spill files cannot be written on this server"
)

// SpoolError is the error of a spill file that could not be created,
// written or read (what says which, for the log), classified by its
// cause, the same for every stage that spills (the reply spool, sort's
// runs, tac, tail, head -n -N, cut):
//   - the file system is full (ENOSPC, EDQUOT, or EFBIG from
//     RLIMIT_FSIZE): RESOURCE_EXHAUSTED, as the --spool-disk budget is;
//     to a client both say that the server has no room for the job's
//     spill now;
//   - the process or system is out of descriptors or kernel memory
//     (EMFILE, ENFILE, ENOMEM): RESOURCE_EXHAUSTED too;
//   - any other errno (the directory removed or replaced, a read-only or
//     failing file system: ENOENT, ENOTDIR, EROFS, EACCES, EIO):
//     UNAVAILABLE, a fault of this server that another one may not have
//     (the Go client retries UNAVAILABLE on another server);
//   - an error without an errno (io.EOF of a short read, os.ErrClosed):
//     CodeInternal, a bug of the server's, not of its disk.
//
// Every one is marked Fault: the server's own failure, whatever the code,
// counted as outcome internal. An error that is a compute.Error already
// (the disk budget's, a write-behind's classified one) is returned as it
// is.
func SpoolError(what string, err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		// No reason from the system: not the disk's fault but a broken
		// invariant of the spill file's user (a read past what it wrote,
		// a file closed under it). INTERNAL, as before: UNAVAILABLE
		// would have the Go client replay a job on a bug, and mark
		// nothing the operator could mend.
		return Internal("spool: "+what, err)
	}
	cause := fmt.Errorf("%s: %w", what, err)
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return &Error{Code: CodeResourceExhausted, Msg: msgSpoolFull, Err: cause, Fault: true}
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.ENOMEM):
		return &Error{Code: CodeResourceExhausted, Msg: msgSpoolDescriptors, Err: cause, Fault: true}
	}
	return &Error{Code: CodeUnavailable, Msg: msgSpoolUnusable, Err: cause, Fault: true}
}

// IsFault reports whether err is a failure of the server's own (Fault),
// whatever code its client is told.
func IsFault(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && (ce.Fault || ce.Code == CodeInternal)
}

// spoolUnusable reports whether err, a SpoolError, says that spill files
// cannot be made at all (UNAVAILABLE), rather than that there is no room
// for them now.
func spoolUnusable(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Fault && ce.Code == CodeUnavailable
}

// spoolFull reports whether err, a SpoolError, says that the spool's file
// system is full (RESOURCE_EXHAUSTED, msgSpoolFull): its directory works.
func spoolFull(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Fault && ce.Msg == msgSpoolFull
}
