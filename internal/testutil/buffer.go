package testutil

import (
	"bytes"
	"sync"
)

// LockedBuffer is a bytes.Buffer safe for concurrent writers and readers:
// a process's stdout and stderr are copied by two goroutines while the test
// reads what has come so far. The zero value is an empty buffer.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n bytes written so far, marked with a leading "…"
// when older output was cut.
func (b *LockedBuffer) Tail(n int) string { return Tail(b.String(), n) }

// Tail returns the last n bytes of s, marked with a leading "…" when s was
// longer.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
