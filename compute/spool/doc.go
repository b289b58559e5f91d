// Package spool holds a job's output until its input has ended, so that no
// reply starts before the half-close.
//
// A Spool keeps what the stages write in memory up to
// compute.SpoolConfig.MemBytes, then in an unlinked temp file charged to the
// shared compute.DiskBudget. When the engine sees the end of input it calls
// Release, which writes what is held to the adapter in order, then what the
// stages write meanwhile, until CloseWrite: the stages and the adapter then
// work at once, the spool between them holding no more than it held at the
// end (past that the stages wait for the adapter). Close drops everything of
// an aborted job.
//
// The spill file is written behind the stages by a goroutine of the
// spool's (writebehind.go), and read back one part ahead of the adapter
// (readback.go), so that on two cores the file system's copies run beside
// the stages and the adapter rather than between them.
package spool
