//go:build !race

package testserver

// RaceEnabled reports whether the tests were built with -race.
const RaceEnabled = false
