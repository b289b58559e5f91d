//go:build !linux

package e2e

import (
	"errors"
	"testing"
)

// errNoNamespaces: the system cannot start the tour in namespaces of its own.
var errNoNamespaces = errors.New("no user namespaces")

// enterTourNamespace does nothing: no namespaces here.
func enterTourNamespace() error { return nil }

// runTourChild fails here: user, network and mount namespaces are Linux's,
// so the tour runs on this machine's loopback.
func runTourChild(*testing.T) ([]byte, error) { return nil, errNoNamespaces }
