package account

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portusproject/portus/server/ldapauth"
	"github.com/portusproject/portus/server/ldapauth/ldaptest"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/shared/apitypes"
)

// benchAddresses numbers the client addresses of the benchmark's attempts.
var benchAddresses atomic.Uint32

// BenchmarkPasswordOutcomes times the refusals an attacker can tell apart
// by speed alone, with the real argon2 costs and a real slapd: a wrong
// password for an account with a local password (a break-glass admin), a
// name nobody has, and a wrong password for a directory account. Equal
// work means the three medians stay within 20 % of each other:
//
//	go test -run '^$' -bench PasswordOutcomes -count 5 ./server/account/
func BenchmarkPasswordOutcomes(b *testing.B) {
	ldaptest.Require(b)
	dir := ldaptest.Start(b)
	client, err := ldapauth.New(dir.Config())
	if err != nil {
		b.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "portus.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := New(st, Options{
		Pepper:    testPepper,
		Logger:    slog.New(slog.DiscardHandler),
		Passwords: PasswordOptions{Directory: client},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(Actor{Name: "test"}, "localadm", "local-admin-password", true, false); err != nil {
		b.Fatal(err)
	}
	// alice's account exists after her first directory sign-in.
	if _, err := svc.AuthenticatePassword("alice", ldaptest.AlicePassword, "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	legacy, err := bcrypt.GenerateFromPassword([]byte("legacy-password"), 5)
	if err != nil {
		b.Fatal(err)
	}
	if res, err := svc.ImportUsers(Actor{Name: "test"}, []apitypes.ImportUser{{Name: "imported", PasswordHash: string(legacy)}}, false); err != nil || res[0].Result != apitypes.ImportCreated {
		b.Fatal(res, err)
	}
	for _, c := range []struct{ outcome, name string }{
		{"local-password", "localadm"},
		{"legacy-bcrypt", "imported"},
		{"unknown-name", "nobody-here"},
		{"directory-account", "alice"},
	} {
		b.Run(c.outcome, func(b *testing.B) {
			for b.Loop() {
				// A new address and a forgiven name each time: the
				// benchmark measures the check, not the throttle's delays.
				n := benchAddresses.Add(1)
				svc.throttle.Unlock(c.name)
				ip := fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
				if _, err := svc.AuthenticatePassword(c.name, "wrong-password", ip); err != ErrAuthFailed {
					b.Fatalf("%s: %v, want ErrAuthFailed", c.outcome, err)
				}
			}
		})
	}
}

// BenchmarkHashChecks times one check of each kind of stored hash: the
// argon2id of Portus (DefaultPasswordParams) and bcrypt at the costs
// htpasswd and docker_auth files carry (htpasswd -B defaults to 5, -C
// sets it). The legacy path pays both, so its extra over a plain argon2id
// check is the bcrypt row of the imported cost:
//
//	go test -run '^$' -bench HashChecks -count 5 ./server/account/
func BenchmarkHashChecks(b *testing.B) {
	argon, err := HashPassword("some-password", DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("argon2id", func(b *testing.B) {
		for b.Loop() {
			checkPassword("wrong-password", argon)
		}
	})
	for _, cost := range []int{5, 10, 12} {
		h, err := bcrypt.GenerateFromPassword([]byte("some-password"), cost)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("bcrypt-cost-%d", cost), func(b *testing.B) {
			for b.Loop() {
				bcrypt.CompareHashAndPassword(h, []byte("wrong-password"))
			}
		})
	}
}
