// Package spool holds a job's output until its input has ended, so that no
// reply starts before the half-close.
//
// A Spool keeps what the stages write in memory up to
// compute.SpoolConfig.MemBytes, then in an unlinked temp file charged to the
// shared compute.DiskBudget. When the engine sees the end of input it calls
// Release, which writes what is held to the adapter in order and lets later
// writes pass straight through; Close drops everything of an aborted job.
package spool
