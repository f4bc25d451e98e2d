package account

import (
	"sync"
	"time"
)

// Sign-up limit per client address: SignupBurst attempts at once, then one
// every SignupEvery, so at most SignupBurst an hour in the long run. A
// person signs up once; a household or a small office behind one NAT rarely
// needs more than five new accounts in an hour, and larger batches are an
// administrator's job (the admin page or `portus user create`, which are
// not limited). Five an hour still bounds a flood of accounts, and of their
// audit entries, to 120 a day per address.
const (
	SignupBurst = 5
	SignupEvery = 12 * time.Minute
)

// addressLimit counts attempts per client address (IPv6 per /64, as the
// throttle does) in a token bucket of burst attempts, refilled one every
// every: sign-ups (SignupBurst, SignupEvery) and leak reports (leaked.go).
//
// For sign-ups, Every attempt that reaches the
// account rules counts, refused ones too: a name that is taken or invalid
// costs the same as a new account, so probing names is as slow as creating
// accounts. It is kept apart from the sign-in throttle, so that a sign-up
// flood never slows anyone's sign-in, not even from the same address.
type addressLimit struct {
	now   func() time.Time
	burst int
	every time.Duration

	mu        sync.Mutex
	lastSweep time.Time
	// full is, per address, when its bucket is full again: each attempt
	// moves it every later, and an attempt is allowed while it stays
	// within burst×every of now.
	full map[string]time.Time
}

func newAddressLimit(now func() time.Time, burst int, every time.Duration) *addressLimit {
	return &addressLimit{now: now, burst: burst, every: every, full: map[string]time.Time{}}
}

// take counts one attempt from ip and returns zero, or returns how
// long the client must wait before its next attempt (which is then not
// counted).
func (l *addressLimit) take(ip string) time.Duration {
	ip = clientKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maybeSweep(now)
	full := l.full[ip]
	if full.Before(now) {
		full = now
	}
	next := full.Add(l.every)
	if wait := next.Sub(now) - time.Duration(l.burst)*l.every; wait > 0 {
		return wait
	}
	l.full[ip] = next
	return 0
}

// forget drops the bucket of key, which will not be used again.
func (l *addressLimit) forget(key string) {
	l.mu.Lock()
	delete(l.full, clientKey(key))
	l.mu.Unlock()
}

// maybeSweep forgets full buckets once the table is large, at most every
// 30 s (as the throttle does, so that a flood is not quadratic).
func (l *addressLimit) maybeSweep(now time.Time) {
	if len(l.full) <= throttleSweepLen || now.Sub(l.lastSweep) <= 30*time.Second {
		return
	}
	l.lastSweep = now
	for k, full := range l.full {
		if !full.After(now) {
			delete(l.full, k)
		}
	}
}
