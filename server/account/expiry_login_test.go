package account

import (
	"errors"
	"testing"
	"time"
)

// Login tokens (what a password docker login leaves) obey the expiry
// policy too: max_token_lifetime caps login_token_max_age and
// token_idle_expiry caps login_token_idle.
func TestLoginTokensCappedByPolicy(t *testing.T) {
	t.Run("max_token_lifetime", func(t *testing.T) {
		f := newFixture(t, Options{TokenPolicy: TokenPolicy{MaxLifetime: 720 * time.Hour}})
		f.user(t, "alice", "correct horse battery", false)
		tok, err := f.svc.CreateLoginToken(Actor{Name: "alice", IP: "192.0.2.1"}, "alice", "docker")
		if err != nil {
			t.Fatal(err)
		}
		// Used every 10 days, well within login_token_idle (30 days).
		for day := 10; day < 30; day += 10 {
			f.clock.Advance(10 * 24 * time.Hour)
			if _, err := f.svc.AuthenticateToken("alice", tok.Token, "192.0.2.1"); err != nil {
				t.Fatalf("login token on day %d: %v; want it to work within max_token_lifetime", day, err)
			}
		}
		f.clock.Advance(10 * 24 * time.Hour) // day 30: 720h since creation
		if _, err := f.svc.AuthenticateToken("alice", tok.Token, "192.0.2.1"); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("login token 720h old under max_token_lifetime 720h: %v, want ErrAuthFailed (not login_token_max_age's 90 days)", err)
		}
	})
	t.Run("token_idle_expiry", func(t *testing.T) {
		f := newFixture(t, Options{TokenPolicy: TokenPolicy{Idle: 48 * time.Hour}})
		f.user(t, "alice", "correct horse battery", false)
		tok, err := f.svc.CreateLoginToken(Actor{Name: "alice", IP: "192.0.2.1"}, "alice", "docker")
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(47 * time.Hour)
		if _, err := f.svc.AuthenticateToken("alice", tok.Token, "192.0.2.1"); err != nil {
			t.Fatalf("login token unused 47h under token_idle_expiry 48h: %v", err)
		}
		f.clock.Advance(48 * time.Hour)
		if _, err := f.svc.AuthenticateToken("alice", tok.Token, "192.0.2.1"); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("login token unused 48h under token_idle_expiry 48h: %v, want ErrAuthFailed (not login_token_idle's 30 days)", err)
		}
	})
	t.Run("longer policy keeps login limits", func(t *testing.T) {
		f := newFixture(t, Options{TokenPolicy: TokenPolicy{MaxLifetime: 8760 * time.Hour, Idle: 60 * 24 * time.Hour}})
		r := f.svc.rules().Login
		if r.MaxAge != DefaultLoginTokenMaxAge || r.Idle != DefaultLoginTokenIdle {
			t.Fatalf("login rule under a longer policy = %+v; want login_token_max_age and login_token_idle unchanged", r)
		}
	})
}
