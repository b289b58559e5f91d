package server

import (
	"errors"
	"strings"
	"syscall"
)

// metricsObserver records jobs in Metrics: it is the Observer both adapters
// are given when metrics are on.
type metricsObserver struct{ m *Metrics }

// NewObserver returns an Observer that records every job in m (in flight,
// halfclose_jobs_total by command and outcome, bytes, duration). A nil m
// gives a nil Observer.
func NewObserver(m *Metrics) Observer {
	if m == nil {
		return nil
	}
	return metricsObserver{m}
}

func (o metricsObserver) JobStarted(command string) func(outcome string, in, out int64) {
	return o.m.JobStart(commandLabel(command)).Done
}

// ConnHook returns a TCPServer.ConnHook counting raw-TCP connections in m,
// or nil for a nil m.
func (m *Metrics) ConnHook() func(delta int) {
	if m == nil {
		return nil
	}
	return func(delta int) {
		if delta > 0 {
			m.TCPConnOpened()
		} else {
			m.TCPConnClosed()
		}
	}
}

// digestCommands maps the algorithms of a gRPC Digest job to the command
// that prints the same digest, so both adapters share label values.
var digestCommands = map[string]string{
	"md5": "md5sum", "sha1": "sha1sum", "sha224": "sha224sum", "sha256": "sha256sum",
	"sha384": "sha384sum", "sha512": "sha512sum", "blake2b": "b2sum", "blake3": "b3sum",
	"cksum": "cksum", "crc32c": "crc32c", "xxh3": "xxh3",
}

// commandLabel turns the command an adapter names a job with into the
// value of the "command" label: the command for one stage, CommandPipeline
// for several; a gRPC Digest of one algorithm counts as that algorithm's
// command (sha256 as sha256sum), of several as CommandOther.
func commandLabel(command string) string {
	if algos, ok := strings.CutPrefix(command, "digest:"); ok {
		if c, ok := digestCommands[algos]; ok {
			return c
		}
		return CommandOther
	}
	if strings.Contains(command, "|") {
		return CommandPipeline
	}
	return command
}

func isConnBroken(err error) bool {
	return isConnReadError(err) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
