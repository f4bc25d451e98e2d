// Package e2e holds the end-to-end tests of Portus: the built binaries
// against real peers — docker-registry, crane, the docker CLI and
// gnome-keyring — as a registry operator and a developer would run them.
//
// A test that needs a tool skips when the tool is missing and the CI
// variable is unset; in CI (CI=true) a missing tool fails the test, so
// nothing is silently left out. scripts/install-deps installs them all.
package e2e
