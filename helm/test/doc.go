// Package charttest checks the Helm chart in ../ringd: helm lint, every
// rendered manifest decoded strictly into the Kubernetes API types, and the
// rendered pods started for real as ringd processes on loopback addresses.
//
// It is a Go module of its own so that the daemon's module does not carry
// the Kubernetes API types. `make test` runs it with the helm binary it
// installs (bin/helm, pinned); set $HELM to use another one.
package charttest
