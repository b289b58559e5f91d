package builtin

import (
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/text"
)

// Registry returns a new registry with every command halfclose serves: the
// digests, grep and the text filters. Each call returns a registry of its
// own, so a caller that adds to it changes no other.
func Registry() *compute.Registry {
	r := compute.NewRegistry()
	digest.Register(r)
	grep.Register(r)
	text.Register(r)
	return r
}
