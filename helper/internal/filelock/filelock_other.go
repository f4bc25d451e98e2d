//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package filelock

// system has no lock calls here: Lock fails with ErrUnsupported. A lock
// that excluded only this process would not serialise the separate helper
// processes docker starts, which is all a lock is for.
var system = ops{}
