//go:build tools

// Package tools pins client-go's own examples, built unmodified into the test clients image
// (test/images/clients-image.ts) so `go mod tidy` keeps their dependencies.
package tools

import (
	_ "k8s.io/client-go/examples/in-cluster-client-configuration"
	_ "k8s.io/client-go/examples/out-of-cluster-client-configuration"
)
