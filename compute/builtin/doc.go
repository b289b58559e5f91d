// Package builtin is the one list of the commands halfclose serves:
// Registry returns a compute.Registry holding the digest commands
// (compute/digest), grep (compute/grep) and the text filters
// (compute/text). The daemon and the tests build their engines from it; a
// test that needs fake commands adds them to a registry of its own, so they
// never reach what a server advertises.
package builtin
