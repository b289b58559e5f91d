package server

import (
	"strings"
	"time"

	"github.com/halfclose/halfclose/compute/digest"
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

func (o metricsObserver) Refused(adapter, reason string) { o.m.Refused(adapter, reason) }

func (o metricsObserver) Waited(adapter string, d time.Duration, admitted bool) {
	o.m.Waited(adapter, d, admitted)
}

func (o metricsObserver) Waiting(delta int) { o.m.Waiting(delta) }

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

// commandLabel turns the command an adapter names a job with into the
// value of the "command" label: the command for one stage, CommandPipeline
// for several; a gRPC Digest of one algorithm counts as that algorithm's
// command (sha256 as sha256sum), of several as CommandOther.
func commandLabel(command string) string {
	if algos, ok := strings.CutPrefix(command, "digest:"); ok {
		if a, ok := digest.Lookup(algos); ok {
			return a.Command
		}
		return CommandOther
	}
	if strings.Contains(command, "|") {
		return CommandPipeline
	}
	return command
}
