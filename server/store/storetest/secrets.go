package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portusproject/portus/server/model"
)

var secretTests = []subtest{
	{"SharedSecretCreatesOnce", testSharedSecretCreatesOnce},
	{"SharedSecretMissing", testSharedSecretMissing},
	{"SharedSecretCreateError", testSharedSecretCreateError},
	{"SharedSecretConcurrentCreate", testSharedSecretConcurrentCreate},
	{"ReplaceSharedSecret", testReplaceSharedSecret},
}

func constant(b string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(b), nil }
}

func testSharedSecretCreatesOnce(t *testing.T, s model.Store) {
	got, err := s.SharedSecret(model.SecretPepper, constant("first-pepper"))
	if err != nil || string(got) != "first-pepper" {
		t.Fatalf("SharedSecret on an empty store = %q, %v; want the created secret", got, err)
	}
	called := false
	got, err = s.SharedSecret(model.SecretPepper, func() ([]byte, error) { called = true; return []byte("second"), nil })
	if err != nil || string(got) != "first-pepper" {
		t.Errorf("second SharedSecret = %q, %v; want the stored secret", got, err)
	}
	if called {
		t.Error("SharedSecret called create although the secret exists")
	}
	if got, err := s.SharedSecret(model.SecretPepper, nil); err != nil || string(got) != "first-pepper" {
		t.Errorf("SharedSecret with nil create = %q, %v", got, err)
	}
	// Names are independent.
	if got, err := s.SharedSecret(model.SecretSigningKey, constant("key")); err != nil || string(got) != "key" {
		t.Errorf("SharedSecret(%s) = %q, %v; want its own secret", model.SecretSigningKey, got, err)
	}
	if got, _ := s.SharedSecret(model.SecretPepper, nil); string(got) != "first-pepper" {
		t.Errorf("creating another secret changed the pepper to %q", got)
	}
}

func testSharedSecretMissing(t *testing.T, s model.Store) {
	for _, name := range model.SecretNames {
		if got, err := s.SharedSecret(name, nil); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("SharedSecret(%s, nil) on an empty store = %q, %v; want ErrNotFound", name, got, err)
		}
	}
}

func testSharedSecretCreateError(t *testing.T, s model.Store) {
	_, err := s.SharedSecret(model.SecretSigningCert, func() ([]byte, error) { return nil, errBoom })
	if !errors.Is(err, errBoom) {
		t.Errorf("SharedSecret with a failing create = %v, want its error", err)
	}
	if _, err := s.SharedSecret(model.SecretSigningCert, nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("after a failing create, SharedSecret(nil) = %v; want ErrNotFound", err)
	}
}

func testSharedSecretConcurrentCreate(t *testing.T, s model.Store) {
	const n = 16
	var (
		wg      sync.WaitGroup
		got     [n][]byte
		errs    [n]error
		creates atomic.Int32
	)
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.SharedSecret(model.SecretSigningKey, func() ([]byte, error) {
				creates.Add(1)
				return fmt.Appendf(nil, "key-%d", i), nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent SharedSecret %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("concurrent SharedSecret returned %q and %q: callers disagree", got[0], got[i])
		}
	}
	if stored, err := s.SharedSecret(model.SecretSigningKey, nil); err != nil || !bytes.Equal(stored, got[0]) {
		t.Errorf("stored secret %q, %v; callers got %q", stored, err, got[0])
	}
	if creates.Load() < 1 {
		t.Error("create was never called")
	}
}

func testReplaceSharedSecret(t *testing.T, s model.Store) {
	name := model.SecretSigningCert
	// nil old on a missing secret creates it.
	got, err := s.ReplaceSharedSecret(name, nil, []byte("v1"))
	if err != nil || string(got) != "v1" {
		t.Fatalf("ReplaceSharedSecret(nil → v1) on a missing secret = %q, %v", got, err)
	}
	// nil old on an existing secret changes nothing and returns it.
	if got, err := s.ReplaceSharedSecret(name, nil, []byte("other")); err != nil || string(got) != "v1" {
		t.Errorf("ReplaceSharedSecret(nil → other) on v1 = %q, %v; want v1 unchanged", got, err)
	}
	// The right old value replaces.
	if got, err := s.ReplaceSharedSecret(name, []byte("v1"), []byte("v2")); err != nil || string(got) != "v2" {
		t.Errorf("ReplaceSharedSecret(v1 → v2) = %q, %v", got, err)
	}
	// A stale old value does not, and returns what is stored.
	if got, err := s.ReplaceSharedSecret(name, []byte("v1"), []byte("v3")); err != nil || string(got) != "v2" {
		t.Errorf("ReplaceSharedSecret(v1 → v3) on v2 = %q, %v; want v2 unchanged", got, err)
	}
	if got, err := s.SharedSecret(name, nil); err != nil || string(got) != "v2" {
		t.Errorf("SharedSecret after the replacements = %q, %v; want v2", got, err)
	}
	// Replacing one secret leaves the others alone.
	if _, err := s.SharedSecret(model.SecretPepper, nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SharedSecret(pepper) = %v, want ErrNotFound", err)
	}
}
