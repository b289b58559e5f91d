// Package leakcheck holds what goleak is told to ignore in the test
// packages that run servers in process, in one place.
package leakcheck

import "go.uber.org/goleak"

// ParkedAheadWorker is the top function of a receive-ahead worker parked
// between two streams (server/aheadworkers.go): it runs nothing and holds
// nothing of a job, and parks for the rest of the process's life.
// server's TestAheadWorkersParkedIgnored holds the name.
const ParkedAheadWorker = "github.com/halfclose/halfclose/server.(*aheadWorkers).park"

// Options are goleak's options for those packages' VerifyTestMain.
func Options(opts ...goleak.Option) []goleak.Option {
	return append([]goleak.Option{goleak.IgnoreTopFunction(ParkedAheadWorker)}, opts...)
}
