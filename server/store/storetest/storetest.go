// Package storetest is the conformance suite of model.Store. Every backend
// runs the same suite, so each behaviour of the contract documented in
// package model is tested once, here:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) model.Store { ... })
//	}
//
// The suite only uses the model.Store interface; whatever is specific to a
// backend (files, locks, the backup format) is tested by the backend itself.
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Run runs the conformance suite against the stores that open returns.
//
// Each subtest calls open once and needs a fresh, empty store that no other
// subtest shares. open should register the store's cleanup with t.Cleanup;
// the suite may already have closed the store by then (see the Close
// subtest), so a cleanup must ignore the error of a second Close.
// Subtests run one after the other.
func Run(t *testing.T, open func(t *testing.T) model.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Users", userTests},
		{"Tokens", tokenTests},
		{"TokenExpiry", expiryTests},
		{"Rotation", rotationTests},
		{"Activities", activityTests},
		{"ActivityLogs", activityLogTests},
		{"Sessions", sessionTests},
		{"Secrets", secretTests},
		{"DeviceGrants", deviceTests},
		{"WebhookQueue", webhookQueueTests},
		{"Backup", backupTests},
		{"Close", closeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					s := open(t)
					if s == nil {
						t.Fatal("open returned a nil store")
					}
					st.fn(t, s)
				})
			}
		})
	}
}

type subtest struct {
	name string
	fn   func(t *testing.T, s model.Store)
}

// now is a time that survives any encoding: UTC, whole milliseconds, no
// monotonic reading.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

var tokenSeq atomic.Uint64

// newToken builds a token of owner with a random 32-byte hash and an id no
// other token of the process has.
func newToken(owner, name string, created time.Time) model.Token {
	hash := make([]byte, 32)
	rand.Read(hash)
	return model.Token{
		ID:         fmt.Sprintf("tok%06d-%s", tokenSeq.Add(1), hex.EncodeToString(hash[:4])),
		Owner:      owner,
		Name:       name,
		Hash:       hash,
		Scope:      "repository:*:pull,push",
		CreatedAt:  created,
		CreatedVia: "storetest",
	}
}

// mustCreateUser creates a user that is not the first admin.
func mustCreateUser(t *testing.T, s model.Store, name string) model.User {
	t.Helper()
	u, err := s.CreateUser(model.User{Name: name, PasswordHash: "$argon2id$" + name, CreatedAt: now()}, false)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// generousLimit is a token limit no test reaches.
const generousLimit = 1000

// mustCreateToken inserts tok without a limit the test could reach.
func mustCreateToken(t *testing.T, s model.Store, tok model.Token) {
	t.Helper()
	mustCreateTokenLimit(t, s, tok, generousLimit)
}

// mustCreateTokenLimit inserts tok, which must fit within limit.
func mustCreateTokenLimit(t *testing.T, s model.Store, tok model.Token, limit int) {
	t.Helper()
	replaced, err := s.CreateToken(model.NewToken{Token: tok, Limit: limit})
	if err != nil {
		t.Fatalf("CreateToken(%s/%s) with limit %d: %v", tok.Owner, tok.Name, limit, err)
	}
	if replaced != nil {
		t.Fatalf("CreateToken(%s/%s) without Replace replaced %+v", tok.Owner, tok.Name, *replaced)
	}
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func userDiff(got, want model.User) string {
	if got.Name != want.Name || got.PasswordHash != want.PasswordHash || got.Admin != want.Admin ||
		got.Disabled != want.Disabled || !sameTime(got.CreatedAt, want.CreatedAt) {
		return fmt.Sprintf("got user %+v, want %+v", got, want)
	}
	return ""
}

func tokenDiff(got, want model.Token) string {
	if got.ID != want.ID || got.Owner != want.Owner || got.Name != want.Name ||
		!bytes.Equal(got.Hash, want.Hash) || got.Scope != want.Scope ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTimePtr(got.ExpiresAt, want.ExpiresAt) ||
		!sameTimePtr(got.LastUsedAt, want.LastUsedAt) || got.CreatedVia != want.CreatedVia || got.Kind != want.Kind {
		return fmt.Sprintf("got token %s, want %s", fmtToken(got), fmtToken(want))
	}
	return ""
}

func fmtToken(t model.Token) string {
	s := fmt.Sprintf("{ID:%s Owner:%s Name:%s Hash:%x Scope:%s CreatedAt:%s CreatedVia:%s Kind:%q",
		t.ID, t.Owner, t.Name, t.Hash, t.Scope, t.CreatedAt, t.CreatedVia, t.Kind)
	if t.ExpiresAt != nil {
		s += " ExpiresAt:" + t.ExpiresAt.String()
	}
	if t.LastUsedAt != nil {
		s += " LastUsedAt:" + t.LastUsedAt.String()
	}
	return s + "}"
}

func activityDiff(got, want model.Activity) string {
	if got.ID != want.ID || !sameTime(got.Time, want.Time) || got.Action != want.Action ||
		got.Actor != want.Actor || got.Subject != want.Subject || got.TokenName != want.TokenName ||
		got.ClientIP != want.ClientIP || got.Detail != want.Detail {
		return fmt.Sprintf("got activity %+v, want %+v", got, want)
	}
	return ""
}

func tokenIDs(list []model.Token) []string {
	ids := make([]string, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	return ids
}

func activityIDs(list []model.Activity) []uint64 {
	ids := make([]uint64, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	return ids
}
