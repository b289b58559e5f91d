// Package validate holds the tests that check deploy/k8s without a
// cluster; it has no code of its own. It is a module of its own so that
// the Kubernetes API types stay out of the library's go.mod.
package validate
