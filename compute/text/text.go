package text

import "github.com/halfclose/halfclose/compute"

// Register adds every text command to r.
func Register(r *compute.Registry) {
	registerBase64(r)
	registerCut(r)
	registerGzip(r)
	registerHeadTail(r)
	registerSort(r)
	registerTac(r)
	registerTr(r)
	registerUniq(r)
	registerWc(r)
}
