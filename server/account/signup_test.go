package account

import (
	"errors"
	"fmt"
	"testing"
)

// TestSignUpFloodIsThrottled reproduces the review's flood (200 sign-ups
// from one address in seconds): at most SignupBurst get through, refused
// attempts count too, the wait is reported, and the bucket refills one
// attempt per SignupEvery.
func TestSignUpFloodIsThrottled(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	const ip = "203.0.113.9"
	created, allowed := 0, 0
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("flood%03d", i)
		switch i % 4 {
		case 1:
			name = "alice" // taken
		case 2:
			name = "Not A Name" // malformed
		}
		_, err := f.svc.SignUp(Actor{Name: name, IP: ip}, name, "flood-password")
		var te *SignupThrottledError
		switch {
		case err == nil:
			created++
			allowed++
		case errors.As(err, &te):
			if te.RetryAfter <= 0 || te.RetryAfter > SignupEvery {
				t.Fatalf("attempt %d: RetryAfter = %s, want in (0, %s]", i, te.RetryAfter, SignupEvery)
			}
		default:
			allowed++ // refused by the rules, but counted
		}
	}
	if allowed != SignupBurst || created > SignupBurst {
		t.Fatalf("200 sign-ups from one address: %d reached the rules, %d created; want %d at most", allowed, created, SignupBurst)
	}
	users, _ := f.svc.Users()
	if len(users) > 1+SignupBurst {
		t.Errorf("%d accounts after the flood, want at most %d", len(users), 1+SignupBurst)
	}
	// Another address, and the same address's IPv6 neighbours, are apart.
	if _, err := f.svc.SignUp(Actor{IP: "198.51.100.1"}, "bob", "bob-password"); err != nil {
		t.Errorf("sign-up from another address during the flood: %v", err)
	}
	for i := 0; i < SignupBurst; i++ {
		f.svc.SignUp(Actor{IP: fmt.Sprintf("2001:db8::%d", i)}, fmt.Sprintf("six%d", i), "six-password")
	}
	if _, err := f.svc.SignUp(Actor{IP: "2001:db8::ffff"}, "six9", "six-password"); !isSignupThrottled(err) {
		t.Errorf("a sixth sign-up from the same IPv6 /64 = %v, want throttled", err)
	}
	// One attempt comes back per SignupEvery, a full burst after an hour.
	f.clock.Advance(SignupEvery)
	if _, err := f.svc.SignUp(Actor{IP: ip}, "later1", "later-password"); err != nil {
		t.Errorf("after %s: %v", SignupEvery, err)
	}
	if _, err := f.svc.SignUp(Actor{IP: ip}, "later2", "later-password"); !isSignupThrottled(err) {
		t.Errorf("second sign-up after %s = %v, want throttled", SignupEvery, err)
	}
	f.clock.Advance(SignupBurst * SignupEvery)
	for i := 0; i < SignupBurst; i++ {
		if _, err := f.svc.SignUp(Actor{IP: ip}, fmt.Sprintf("hour%d", i), "hour-password"); err != nil {
			t.Errorf("sign-up %d an hour later: %v", i+1, err)
		}
	}
}

func isSignupThrottled(err error) bool {
	var te *SignupThrottledError
	return errors.As(err, &te)
}

// TestSignUpTakenNameLooksReserved: an active, a disabled and a reserved
// name get the same error, after the same argon2 run a new name costs.
func TestSignUpTakenNameLooksReserved(t *testing.T) {
	params := PasswordParams{Memory: 8 * 1024, Time: 2, Threads: 1}
	f := newFixture(t, Options{PasswordParams: params})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "dave", "dave-password", false)
	disabled := true
	if _, err := f.svc.UpdateUser(Actor{Name: "test"}, "dave", UserChange{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"alice", "dave", LocalAdminName} {
		before := argonRuns.Load()
		_, err := f.svc.SignUp(Actor{IP: fmt.Sprintf("192.0.2.%d", i)}, name, "other-password")
		if !errors.Is(err, ErrNameUnavailable) || errors.Is(err, ErrUserExists) {
			t.Errorf("SignUp(%s) = %v, want only ErrNameUnavailable", name, err)
		}
		// Counted, not timed: a timing test fails on a busy machine.
		if runs := argonRuns.Load() - before; runs != 1 {
			t.Errorf("SignUp(%s) ran argon2 %d times, want 1, as a new name's sign-up does", name, runs)
		}
	}
	before := argonRuns.Load()
	if _, err := f.svc.SignUp(Actor{IP: "192.0.2.9"}, "newcomer", "other-password"); err != nil {
		t.Fatal(err)
	}
	if runs := argonRuns.Load() - before; runs != 1 {
		t.Errorf("a new name's sign-up ran argon2 %d times, want 1", runs)
	}
	// The admin path still says what happened.
	if _, err := f.svc.CreateUser(Actor{Name: "admin"}, "alice", "other-password", false, false); !errors.Is(err, ErrUserExists) {
		t.Errorf("CreateUser(alice) = %v, want ErrUserExists", err)
	}
}
