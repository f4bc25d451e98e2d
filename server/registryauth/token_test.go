package registryauth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// libtrustID computes the libtrust key ID of a certificate's key the long
// way, independently of LibtrustKeyID.
func libtrustID(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	enc := strings.TrimRight(base32.StdEncoding.EncodeToString(sum[:30]), "=")
	var groups []string
	for len(enc) > 0 {
		groups = append(groups, enc[:4])
		enc = enc[4:]
	}
	return strings.Join(groups, ":")
}

// verify checks token as the registry does (it ignores iat), trusting only
// the certificate in its x5c header, and returns the claims and the header.
func verify(t *testing.T, s *Signer, token string, now time.Time) (*Claims, map[string]any) {
	t.Helper()
	claims := &Claims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		x5c, ok := tok.Header["x5c"].([]any)
		if !ok || len(x5c) != 1 {
			return nil, errors.New("no single x5c certificate")
		}
		b64, _ := x5c[0].(string)
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		if kid := tok.Header["kid"]; kid != libtrustID(cert) {
			t.Errorf("header kid %v, libtrust ID of the x5c key %s", kid, libtrustID(cert))
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(s.CertificatePEM())
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	},
		jwt.WithValidMethods([]string{s.method.Alg()}),
		jwt.WithIssuer("portus"),
		jwt.WithAudience("registry.example"),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return claims, parsed.Header
}

// rawSegment decodes segment i of token as a JSON object, keeping raw values.
func rawSegment(t *testing.T, token string, i int) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("segment %d %s: %v", i, data, err)
	}
	return m
}

func TestIssue(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			s := testSigner(t, alg)
			iss, err := NewIssuer(s, "portus", 0)
			if err != nil {
				t.Fatal(err)
			}
			if iss.TTL != DefaultTTL || iss.ExpiresIn() != 300 {
				t.Errorf("TTL %v, expires in %d", iss.TTL, iss.ExpiresIn())
			}
			now := time.Now().Truncate(time.Second)
			access := []Access{
				{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}},
				{Type: "repository", Name: "bob/app"},
			}
			token, err := iss.Issue("alice", "registry.example", access, now)
			if err != nil {
				t.Fatal(err)
			}

			claims, header := verify(t, s, token, now)
			if header["typ"] != "JWT" || header["alg"] != alg || header["kid"] != s.KeyID() {
				t.Errorf("header %v", header)
			}
			if claims.Issuer != "portus" || claims.Subject != "alice" || claims.Audience != "registry.example" {
				t.Errorf("claims %+v", claims)
			}
			if claims.IssuedAt != now.Unix() || claims.ExpiresAt-claims.IssuedAt != int64(DefaultTTL/time.Second) {
				t.Errorf("iat %d, exp %d, now %d", claims.IssuedAt, claims.ExpiresAt, now.Unix())
			}
			if !(claims.NotBefore < claims.IssuedAt) || claims.IssuedAt-claims.NotBefore > 60 {
				t.Errorf("nbf %d, iat %d", claims.NotBefore, claims.IssuedAt)
			}
			wantAccess := []Access{access[0], {Type: "repository", Name: "bob/app", Actions: []string{}}}
			if !reflect.DeepEqual(claims.Access, wantAccess) {
				t.Errorf("access %#v", claims.Access)
			}

			// The registry's clock a little behind ours: nbf covers it.
			verify(t, s, token, now.Add(-3*time.Second))

			raw := rawSegment(t, token, 1)
			if aud := string(raw["aud"]); aud != `"registry.example"` {
				t.Errorf("aud is %s, want a JSON string", aud)
			}
			if a := string(raw["access"]); !strings.Contains(a, `"actions":[]`) || strings.Contains(a, "null") {
				t.Errorf("access %s", a)
			}
			for _, k := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("claim %s missing", k)
				}
			}
			if h := rawSegment(t, token, 0); len(h) != 4 {
				t.Errorf("header has fields %v", h)
			}
		})
	}
}

func TestIssueExpiry(t *testing.T) {
	s := testSigner(t, AlgES256)
	iss := &Issuer{Signer: s, Name: "portus", TTL: 90 * time.Second}
	now := time.Unix(1_800_000_000, 0)
	token, err := iss.Issue("alice", "registry.example", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := verify(t, s, token, now.Add(89*time.Second))
	if claims.ExpiresAt-claims.IssuedAt != 90 || iss.ExpiresIn() != 90 {
		t.Errorf("exp - iat = %d", claims.ExpiresAt-claims.IssuedAt)
	}
	_, err = jwt.ParseWithClaims(token, &Claims{}, func(*jwt.Token) (any, error) { return s.PublicKey(), nil },
		jwt.WithTimeFunc(func() time.Time { return now.Add(91 * time.Second) }))
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("token still valid after its TTL: %v", err)
	}
}

func TestIssueAnonymous(t *testing.T) {
	s := testSigner(t, AlgES256)
	iss, err := NewIssuer(s, "portus", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	token, err := iss.Issue("", "registry.example", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw := rawSegment(t, token, 1)
	if string(raw["sub"]) != `""` || string(raw["access"]) != `[]` {
		t.Errorf("sub %s, access %s", raw["sub"], raw["access"])
	}
}

func TestIssueUniqueIDs(t *testing.T) {
	s := testSigner(t, AlgES256)
	iss, err := NewIssuer(s, "portus", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seen := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				token, err := iss.Issue("alice", "registry.example", []Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull"}}}, now)
				if err != nil {
					t.Error(err)
					return
				}
				claims, _ := verify(t, s, token, now)
				mu.Lock()
				if len(claims.ID) != 32 || seen[claims.ID] {
					t.Errorf("jti %q short or repeated", claims.ID)
				}
				seen[claims.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestIssuerErrors(t *testing.T) {
	s := testSigner(t, AlgES256)
	if _, err := NewIssuer(s, "portus", 59*time.Second); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("TTL below the minimum: %v", err)
	}
	if _, err := NewIssuer(s, "portus", -time.Minute); err == nil {
		t.Error("negative TTL accepted")
	}
	if _, err := NewIssuer(nil, "portus", 0); err == nil {
		t.Error("nil signer accepted")
	}
	if _, err := NewIssuer(s, "", 0); err == nil {
		t.Error("empty name accepted")
	}
	if iss, err := NewIssuer(s, "portus", MinTTL); err != nil || iss.TTL != MinTTL {
		t.Errorf("MinTTL refused: %v", err)
	}

	now := time.Now()
	for name, iss := range map[string]*Issuer{
		"short TTL": {Signer: s, Name: "portus", TTL: 10 * time.Second},
		"no signer": {Name: "portus"},
		"no name":   {Signer: s},
		"nil":       nil,
	} {
		if _, err := iss.Issue("alice", "registry.example", nil, now); err == nil {
			t.Errorf("%s: Issue succeeded", name)
		}
	}
	if _, err := (&Issuer{Signer: s, Name: "portus"}).Issue("alice", "", nil, now); err == nil {
		t.Error("empty service accepted")
	}
	// The zero TTL of a literal Issuer is the default.
	token, err := (&Issuer{Signer: s, Name: "portus"}).Issue("alice", "registry.example", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if claims, _ := verify(t, s, token, now); claims.ExpiresAt-claims.IssuedAt != 300 {
		t.Errorf("zero TTL gave %d s", claims.ExpiresAt-claims.IssuedAt)
	}
}

// TestIssueKIDHeader checks the header registry 3 needs with a jwks file
// alone: no x5c (which it would verify against a rootcertbundle it does
// not have) and a kid that the JWKS holds.
func TestIssueKIDHeader(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			s := testSigner(t, alg)
			now := time.Now()
			token, err := (&Issuer{Signer: s, Name: "portus", Header: HeaderKID}).Issue("alice", "registry.example", nil, now)
			if err != nil {
				t.Fatal(err)
			}
			header := rawSegment(t, token, 0)
			if _, ok := header["x5c"]; ok {
				t.Errorf("kid header carries x5c: %s", header["x5c"])
			}
			var kid string
			if err := json.Unmarshal(header["kid"], &kid); err != nil || kid != s.KeyID() {
				t.Fatalf("kid %s, want %s (%v)", header["kid"], s.KeyID(), err)
			}
			data, err := s.JWKS()
			if err != nil {
				t.Fatal(err)
			}
			var set struct {
				Keys []struct {
					Kid string `json:"kid"`
				} `json:"keys"`
			}
			if err := json.Unmarshal(data, &set); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, k := range set.Keys {
				found = found || k.Kid == kid
			}
			if !found {
				t.Errorf("kid %s is not in the JWKS %s", kid, data)
			}
			_, err = jwt.ParseWithClaims(token, &Claims{}, func(*jwt.Token) (any, error) { return s.PublicKey(), nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithAudience("registry.example"), jwt.WithTimeFunc(func() time.Time { return now }))
			if err != nil {
				t.Errorf("token does not verify with the signing key: %v", err)
			}

			// The default header keeps x5c.
			token, err = (&Issuer{Signer: s, Name: "portus", Header: HeaderX5C}).Issue("alice", "registry.example", nil, now)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, s, token, now)
		})
	}
}

func TestParseTokenHeader(t *testing.T) {
	for name, want := range map[string]TokenHeader{"x5c": HeaderX5C, "kid": HeaderKID} {
		if got, err := ParseTokenHeader(name); err != nil || got != want {
			t.Errorf("ParseTokenHeader(%q) = %q, %v", name, got, err)
		}
	}
	for _, name := range []string{"", "X5C", "jwk"} {
		if _, err := ParseTokenHeader(name); err == nil {
			t.Errorf("ParseTokenHeader(%q) accepted", name)
		}
	}
	if _, err := (&Issuer{Signer: testSigner(t, AlgES256), Name: "portus", Header: "jwk"}).Issue("alice", "registry.example", nil, time.Now()); err == nil {
		t.Error("Issue with an unknown header succeeded")
	}
}

func TestClaimsJSON(t *testing.T) {
	got, err := json.Marshal(Claims{Issuer: "portus", Audience: "registry", Access: []Access{{Type: "registry", Name: "catalog"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iss":"portus","sub":"","aud":"registry","exp":0,"nbf":0,"iat":0,"jti":"","access":[{"type":"registry","name":"catalog","actions":[]}]}`
	if string(got) != want {
		t.Errorf("claims JSON\n got %s\nwant %s", got, want)
	}
}

func BenchmarkIssueES256(b *testing.B) { benchmarkIssue(b, AlgES256) }
func BenchmarkIssueRS256(b *testing.B) { benchmarkIssue(b, AlgRS256) }

func benchmarkIssue(b *testing.B, alg string) {
	iss, err := NewIssuer(testSigner(b, alg), "portus", DefaultTTL)
	if err != nil {
		b.Fatal(err)
	}
	access := []Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Issue("alice", "registry.example", access, now); err != nil {
			b.Fatal(err)
		}
	}
}
