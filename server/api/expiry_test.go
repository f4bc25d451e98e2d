package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/store/etcdstore"
	"github.com/portusproject/portus/shared/apitypes"
)

// The token expiry policy over HTTP, on bbolt and on etcd: the maximum
// lifetime, idle and dated expiry refused at every door, the slot freed,
// the keep period, and where a token was last used.

// onBothStores runs fn on a bbolt server and on one over etcd; policy
// sets the expiry settings.
func onBothStores(t *testing.T, o testserver.Options, policy func(*config.TokenExpiry), fn func(t *testing.T, s *testserver.Server)) {
	t.Run("bolt", func(t *testing.T) {
		fn(t, startWith(t, o, policy, nil))
	})
	t.Run("etcd", func(t *testing.T) {
		cluster := testetcd.Start(t, 1)
		key, err := etcdstore.NewSecretsKey()
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(t.TempDir(), "etcd.key")
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		fn(t, startWith(t, o, policy, func(c *config.Config) {
			c.Store, c.EtcdSecretsKeyFile = cluster.Spec(), keyFile
		}))
	})
}

func startWith(t *testing.T, o testserver.Options, policy func(*config.TokenExpiry), store func(*config.Config)) *testserver.Server {
	o.Configure = func(c *config.Config) {
		if policy != nil {
			policy(&c.TokenExpiry)
		}
		if store != nil {
			store(c)
		}
	}
	return start(t, o)
}

func expiring(name string, at time.Time) apitypes.CreateTokenRequest {
	return apitypes.CreateTokenRequest{Name: name, ExpiresAt: &at}
}

func TestMaxTokenLifetime(t *testing.T) {
	onBothStores(t, testserver.Options{}, func(e *config.TokenExpiry) {
		e.MaxTokenLifetime, e.DefaultTokenLifetime = 720*time.Hour, 720*time.Hour
	}, func(t *testing.T, s *testserver.Server) {
		auth := basic("alice", alicePW)
		now := s.Clock.Now()
		for what, req := range map[string]apitypes.CreateTokenRequest{
			"no expiry":     tokenReq("never"),
			"31 days ahead": expiring("long", now.Add(31*24*time.Hour)),
		} {
			r := s.Do(http.MethodPost, apitypes.TokensPath, req, auth)
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Message(), "max_token_lifetime is 30 days") {
				t.Errorf("token with %s: %s, want 422 naming the maximum (30 days)", what, r)
			}
		}
		s.Expect(http.StatusCreated, http.MethodPost, apitypes.TokensPath, expiring("ok", now.Add(30*24*time.Hour)), auth)
		if list := listTokens(t, s, auth); len(list) != 1 || list[0].Name != "ok" {
			t.Errorf("tokens after the refusals: %+v, want only ok", list)
		}
	})
}

// refusedEverywhere checks that tok of alice works (want true) or is
// refused (false) at the API, /v2/token with Basic and the refresh grant.
func refusedEverywhere(t *testing.T, s *testserver.Server, tok string, works bool, when string) {
	t.Helper()
	api := s.Do(http.MethodGet, apitypes.TokensPath, nil, pauth("alice", tok))
	v2 := s.Do(http.MethodGet, apitypes.RegistryTokenPath+"?service=registry", nil, basic("alice", tok))
	grant := refresh(t, s, tok)
	for what, r := range map[string]*testserver.Response{"API": api, "/v2/token": v2, "refresh grant": grant} {
		if works && r.Status != http.StatusOK {
			t.Errorf("%s: %s with the token: %s, want 200", when, what, r)
		}
		if !works {
			wantRefused(t, when+": "+what, r)
		}
	}
}

// TestIdleExpiryBoundary: a token unused for token_idle_expiry stops at
// that instant, not a second before, wherever it is used.
func TestIdleExpiryBoundary(t *testing.T) {
	onBothStores(t, testserver.Options{}, func(e *config.TokenExpiry) {
		e.TokenIdleExpiry = 24 * time.Hour
	}, func(t *testing.T, s *testserver.Server) {
		tok := s.CreateToken("alice", alicePW, tokenReq("ci"))
		s.Clock.Advance(time.Hour)
		refusedEverywhere(t, s, tok.Token, true, "used after an hour")
		// Written or not, the last use counts.
		if err := s.Core.Accounts.Flush(); err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(24*time.Hour - time.Second)
		refusedEverywhere(t, s, tok.Token, true, "a second before the idle limit")
		s.Clock.Advance(24 * time.Hour)
		refusedEverywhere(t, s, tok.Token, false, "idle for 24h")
		list := listTokens(t, s, basic("alice", alicePW))
		if len(list) != 1 || !list[0].Expired {
			t.Errorf("tokens listed %+v, want ci expired", list)
		}
	})
}

// TestExpiredTokens: a dated token is refused at its expiry, frees its
// slot, is listed as expired, and is deleted after expired_token_keep.
func TestExpiredTokens(t *testing.T) {
	onBothStores(t, testserver.Options{MaxTokens: 1}, func(e *config.TokenExpiry) {
		e.ExpiredTokenKeep = 48 * time.Hour
	}, func(t *testing.T, s *testserver.Server) {
		auth := basic("alice", alicePW)
		tok := s.CreateToken("alice", alicePW, expiring("ci", s.Clock.Now().Add(2*time.Hour)))
		refusedEverywhere(t, s, tok.Token, true, "before its expiry")
		s.Clock.Advance(time.Hour)
		if list := listTokens(t, s, auth); len(list) != 1 || !list[0].ExpiresSoon || list[0].Expired {
			t.Errorf("an hour before its expiry: %+v, want expires_soon", list)
		}
		s.Expect(http.StatusUnprocessableEntity, http.MethodPost, apitypes.TokensPath, tokenReq("second"), auth)
		s.Clock.Advance(time.Hour)
		refusedEverywhere(t, s, tok.Token, false, "at its expiry")
		// The expired token holds no slot.
		s.Expect(http.StatusCreated, http.MethodPost, apitypes.TokensPath, tokenReq("second"), auth)
		list := listTokens(t, s, auth)
		if len(list) != 2 || !list[0].Expired || list[0].ExpiresSoon || list[1].Expired {
			t.Fatalf("tokens %+v, want ci expired and second live", list)
		}
		s.Clock.Advance(48*time.Hour - time.Second)
		sweep(t, s)
		if list := listTokens(t, s, auth); len(list) != 2 {
			t.Errorf("a second before the keep period: %d tokens, want the expired one still listed", len(list))
		}
		s.Clock.Advance(time.Second)
		sweep(t, s)
		if list := listTokens(t, s, auth); len(list) != 1 || list[0].Name != "second" {
			t.Errorf("after the keep period: %+v, want only second", list)
		}
	})
}

func sweep(t *testing.T, s *testserver.Server) {
	t.Helper()
	if err := s.Core.Accounts.SweepTokens(); err != nil {
		t.Fatalf("SweepTokens: %v", err)
	}
}

func userAgent(ua string) testserver.Opt {
	return func(r *http.Request) { r.Header.Set("User-Agent", ua) }
}

// TestLastUsedWhere: the address and client of the last use are kept,
// batched with its time, and the client cut to 100 characters.
func TestLastUsedWhere(t *testing.T) {
	onBothStores(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}}, nil, func(t *testing.T, s *testserver.Server) {
		ci := s.CreateToken("alice", alicePW, tokenReq("ci"))
		long := s.CreateToken("alice", alicePW, tokenReq("long"))
		s.Expect(http.StatusOK, http.MethodGet, apitypes.RegistryTokenPath+"?service=registry", nil,
			basic("alice", ci.Token), fromIP("203.0.113.7"), userAgent("docker/28.2.2 go/go1.24.3 git-commit/e6534b4 kernel/6.8.0 os/linux arch/amd64"))
		s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, pauth("alice", long.Token), fromIP("198.51.100.9"), userAgent(strings.Repeat("x", 300)))
		if err := s.Core.Accounts.Flush(); err != nil {
			t.Fatal(err)
		}
		got := map[string]apitypes.Token{}
		for _, tok := range listTokens(t, s, basic("alice", alicePW)) {
			got[tok.Name] = tok
		}
		if c := got["ci"]; c.LastUsedAddr != "203.0.113.7" || !strings.HasPrefix(c.LastUsedClient, "docker/28.2.2 ") || c.LastUsedAt == nil {
			t.Errorf("ci last used %v from %q, %q; want 203.0.113.7, docker/28.2.2 …", c.LastUsedAt, c.LastUsedAddr, c.LastUsedClient)
		}
		if l := got["long"]; l.LastUsedAddr != "198.51.100.9" || l.LastUsedClient != strings.Repeat("x", 100) {
			t.Errorf("long last used from %q, client of %d bytes; want 198.51.100.9 and 100", l.LastUsedAddr, len(l.LastUsedClient))
		}
	})
}

// TestExpiringSoonMetric: the gauge counts the tokens that expire within
// 7 days, expired ones not.
func TestExpiringSoonMetric(t *testing.T) {
	s := start(t, testserver.Options{})
	now := s.Clock.Now()
	s.CreateToken("alice", alicePW, expiring("soon", now.Add(6*24*time.Hour)))
	s.CreateToken("alice", alicePW, expiring("gone", now.Add(time.Hour)))
	s.CreateToken("bob", bobPW, expiring("later", now.Add(8*24*time.Hour)))
	s.CreateToken("bob", bobPW, tokenReq("never"))
	s.Clock.Advance(2 * time.Hour)
	for _, when := range []string{"before the first sweep", "after a sweep"} {
		body := string(s.Expect(http.StatusOK, http.MethodGet, "/metrics", nil).Body)
		if !strings.Contains(body, "\nportus_tokens_expiring_soon 1\n") {
			t.Errorf("%s: /metrics lacks portus_tokens_expiring_soon 1", when)
		}
		sweep(t, s)
	}
}
