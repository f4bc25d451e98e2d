package registryauth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portusproject/portus/server/model"
)

// trusted checks token as registry 2.8 does: its x5c certificate must
// chain to a certificate of bundle and its kid be that key's.
func trusted(bundle []byte, token string, now time.Time) error {
	_, err := jwt.ParseWithClaims(token, &Claims{}, func(tok *jwt.Token) (any, error) {
		x5c, _ := tok.Header["x5c"].([]any)
		if len(x5c) != 1 {
			return nil, errors.New("no x5c")
		}
		der, err := base64.StdEncoding.DecodeString(x5c[0].(string))
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(bundle)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, err
		}
		if kid, _ := LibtrustKeyID(cert.PublicKey); tok.Header["kid"] != kid {
			return nil, errors.New("kid does not match x5c")
		}
		return cert.PublicKey, nil
	}, jwt.WithTimeFunc(func() time.Time { return now }))
	return err
}

// jwksKids returns the key IDs of a JWKS document, in order.
func jwksKids(t *testing.T, s *Signer) []string {
	t.Helper()
	data, _ := s.JWKS()
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// rotationFixture is one deployment's secrets, a live issuer on them and
// a rotation with a 5-minute token lifetime.
type rotationFixture struct {
	keeper SecretKeeper
	live   *LiveSigner
	issuer *Issuer
	rot    KeyRotation
	now    time.Time
}

func newRotationFixture(t *testing.T, keeper SecretKeeper) *rotationFixture {
	t.Helper()
	f := &rotationFixture{keeper: keeper, now: t0}
	clock := func() time.Time { return f.now }
	s, err := LoadOrCreateSigner(keeper, AlgES256, "", clock)
	if err != nil {
		t.Fatal(err)
	}
	f.live = NewLiveSigner(s, keeper, "", clock)
	f.issuer = &Issuer{Live: f.live, Name: "portus", TTL: DefaultTTL}
	f.rot = KeyRotation{Keeper: keeper, MaxTokenLifetime: DefaultTTL, Now: clock}
	return f
}

// refresh re-reads the secrets and returns the signer and its token.
func (f *rotationFixture) refresh(t *testing.T) (*Signer, string) {
	t.Helper()
	if _, err := f.live.Refresh(); err != nil {
		t.Fatal(err)
	}
	token, err := f.issuer.Issue("alice", "registry.example", nil, f.now)
	if err != nil {
		t.Fatal(err)
	}
	return f.live.Current(), token
}

func wantRefused(t *testing.T, what string, err error, says string) {
	t.Helper()
	var r *RefusedError
	if !errors.As(err, &r) || !strings.Contains(err.Error(), says) {
		t.Errorf("%s: %v; want a refusal saying %q", what, err, says)
	}
}

func wantKids(t *testing.T, state string, s *Signer, kids ...string) {
	t.Helper()
	got := jwksKids(t, s)
	if strings.Join(got, " ") != strings.Join(kids, " ") {
		t.Errorf("%s: JWKS keys %v, want %v", state, got, kids)
	}
	if n := strings.Count(string(s.CertificatePEM()), "BEGIN CERTIFICATE"); n != len(kids) {
		t.Errorf("%s: bundle has %d certificates, want %d", state, n, len(kids))
	}
}

func TestRotationTransitions(t *testing.T) {
	for name, keeper := range map[string]SecretKeeper{
		"memory": &memKeeper{m: map[string][]byte{}},
		"files":  dirKeeper(t.TempDir()),
	} {
		t.Run(name, func(t *testing.T) {
			f := newRotationFixture(t, keeper)
			s0, oldToken := f.refresh(t)
			oldKid := s0.KeyID()
			wantKids(t, "start", s0, oldKid)
			wantRefused(t, "activate with nothing staged", f.rot.Activate(), "no next signing key is staged")
			wantRefused(t, "retire with nothing to retire", f.rot.Retire(true), "nothing to retire")

			// rotate: both published, the current one signs.
			if err := f.rot.Rotate(); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, "rotate twice", f.rot.Rotate(), "already staged")
			s1, tok1 := f.refresh(t)
			if s1.KeyID() != oldKid {
				t.Fatalf("after rotate the signer is %s, want the current %s", s1.KeyID(), oldKid)
			}
			st := f.rot.Status(s1)
			if len(st.Keys) != 2 || st.Keys[1].Role != RoleNext || st.Keys[1].Signing || st.ActivatedAt != nil {
				t.Fatalf("status after rotate: %+v", st)
			}
			newKid := st.Keys[1].KeyID
			wantKids(t, "staged", s1, oldKid, newKid)
			for _, tok := range []string{oldToken, tok1} {
				if err := trusted(s1.CertificatePEM(), tok, f.now); err != nil {
					t.Errorf("staged bundle refuses a token of the current key: %v", err)
				}
			}

			// activate: the next key signs, the old one stays published.
			f.now = f.now.Add(time.Minute)
			if err := f.rot.Activate(); err != nil {
				t.Fatal(err)
			}
			s2, tok2 := f.refresh(t)
			if s2.KeyID() != newKid {
				t.Fatalf("after activate the signer is %s, want %s", s2.KeyID(), newKid)
			}
			wantKids(t, "activated", s2, newKid, oldKid)
			for _, tok := range []string{oldToken, tok2} {
				if err := trusted(s2.CertificatePEM(), tok, f.now); err != nil {
					t.Errorf("activated bundle refuses a token: %v", err)
				}
			}
			st = f.rot.Status(s2)
			if st.ActivatedAt == nil || !st.ActivatedAt.Equal(f.now) || !st.RetireAfter.Equal(f.now.Add(DefaultTTL+ReloadInterval)) || st.Keys[1].Role != RolePrevious {
				t.Errorf("status after activate: %+v", st)
			}

			// retire: refused within the token lifetime, then done.
			f.now = f.now.Add(DefaultTTL)
			wantRefused(t, "retire too early", f.rot.Retire(false), "--force")
			f.now = f.now.Add(ReloadInterval)
			if err := f.rot.Retire(false); err != nil {
				t.Fatal(err)
			}
			s3, _ := f.refresh(t)
			wantKids(t, "retired", s3, newKid)
			if err := trusted(s3.CertificatePEM(), oldToken, t0); err == nil {
				t.Error("the retired bundle still trusts the old key's token")
			}
		})
	}
}

func TestRotationRefusals(t *testing.T) {
	f := newRotationFixture(t, &memKeeper{m: map[string][]byte{}})
	for i := range 2 {
		if err := f.rot.Rotate(); err != nil {
			t.Fatal(err)
		}
		err := f.rot.Activate()
		if i == 0 && err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			wantRefused(t, "activate with a previous certificate published", err, "retire` first")
		}
	}
	if err := f.rot.Retire(true); err != nil {
		t.Fatalf("retire --force: %v", err)
	}
	if err := f.rot.Activate(); err != nil {
		t.Fatalf("activate after retiring: %v", err)
	}
	op := f.rot
	op.KeyFile = "operator.pem"
	wantRefused(t, "rotate an operator's key file", op.Rotate(), "--signing-key")
}

// TestLiveSignerMidActivation: a read between the key and the certificate
// of an activation signs with the new key and publishes both.
func TestLiveSignerMidActivation(t *testing.T) {
	k := &memKeeper{m: map[string][]byte{}}
	f := newRotationFixture(t, k)
	if err := f.rot.Rotate(); err != nil {
		t.Fatal(err)
	}
	old := f.live.Current().KeyID()
	k.m[model.SecretSigningKey] = k.m[model.SecretSigningNextKey]
	s, tok := f.refresh(t)
	if s.KeyID() == old || len(jwksKids(t, s)) != 2 {
		t.Fatalf("mid-activation: signer %s (old %s), JWKS %v", s.KeyID(), old, jwksKids(t, s))
	}
	if err := trusted(s.CertificatePEM(), tok, f.now); err != nil {
		t.Errorf("mid-activation token not trusted by the published bundle: %v", err)
	}
}

// TestLiveSignerConcurrent issues tokens while the keys rotate: each one
// is trusted by the bundle published after the activation.
func TestLiveSignerConcurrent(t *testing.T) {
	f := newRotationFixture(t, &memKeeper{m: map[string][]byte{}})
	if err := f.rot.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.live.Refresh(); err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens []string
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				tok, err := f.issuer.Issue("alice", "registry.example", nil, t0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				tokens = append(tokens, tok)
				mu.Unlock()
			}
		}()
	}
	if err := f.rot.Activate(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.live.Refresh(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	bundle := f.live.Current().CertificatePEM()
	for _, tok := range tokens {
		if err := trusted(bundle, tok, t0); err != nil {
			t.Fatalf("a token issued during the activation is not trusted: %v", err)
		}
	}
}
