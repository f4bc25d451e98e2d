package boltstore

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// BenchmarkLookup compares the hot path before rotation existed
// (TokenByHash) with SecretByHash, which the account service now calls:
// for a live hash, an unknown one, and a retired one. Read them as ratios
// of one run: a live lookup must cost what it did.
func BenchmarkLookup(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "portus.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.CreateUser(model.User{Name: "alice", CreatedAt: time.Now()}, false); err != nil {
		b.Fatal(err)
	}
	hash := func() []byte { h := make([]byte, 32); rand.Read(h); return h }
	var live, retired []byte
	for i := range 1000 {
		t := model.Token{ID: fmt.Sprintf("t%04d", i), Owner: "alice", Name: fmt.Sprintf("n%04d", i), Hash: hash(), CreatedAt: time.Now()}
		if _, err := s.CreateToken(model.NewToken{Token: t}); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		r := model.Rotation{Owner: "alice", ID: t.ID, From: t.Hash, Hash: hash(), At: now, GraceUntil: now.Add(time.Hour), KeepUntil: now.Add(24 * time.Hour)}
		if _, err := s.RotateToken(r); err != nil {
			b.Fatal(err)
		}
		live, retired = r.Hash, t.Hash
	}
	unknown := hash()
	now := time.Now()
	for _, c := range []struct {
		name   string
		lookup func() error
	}{
		{"TokenByHash/live", func() error { _, _, err := s.TokenByHash(live); return err }},
		{"SecretByHash/live", func() error { _, _, err := s.SecretByHash(live, now); return err }},
		{"TokenByHash/unknown", func() error { s.TokenByHash(unknown); return nil }},
		{"SecretByHash/unknown", func() error { s.SecretByHash(unknown, now); return nil }},
		{"SecretByHash/retired", func() error { _, _, err := s.SecretByHash(retired, now); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.lookup(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
