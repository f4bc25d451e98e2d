package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

const leakSource = "https://gist.example.com/someone/abc123"

func leakReport(tokens ...string) apitypes.RevokeLeakedRequest {
	return apitypes.RevokeLeakedRequest{Tokens: tokens, Source: leakSource}
}

// A reported live token stops working at once, everywhere; the owner's
// activity names the source; a made-up token gets the very same answer.
func TestRevokeLeakedToken(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}})
	leaked := s.CreateToken("alice", alicePW, tokenReq("ci"))
	kept := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	s.Expect(http.StatusOK, http.MethodGet, "/v2/token?service=registry", nil, basic("alice", leaked.Token))

	hit := s.Expect(http.StatusAccepted, http.MethodPost, apitypes.RevokeLeakedPath, leakReport(leaked.Token), fromIP("203.0.113.9"))
	s.Expect(http.StatusUnauthorized, http.MethodGet, "/v2/token?service=registry", nil, basic("alice", leaked.Token))
	s.Expect(http.StatusUnauthorized, http.MethodGet, "/api/v1/tokens", nil, basic("alice", leaked.Token))
	s.Expect(http.StatusOK, http.MethodGet, "/v2/token?service=registry", nil, basic("alice", kept.Token))

	madeUp, err := apptoken.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, report := range []apitypes.RevokeLeakedRequest{leakReport(madeUp), leakReport(leaked.Token), leakReport("ptk_not-even-a-token")} {
		miss := s.Expect(http.StatusAccepted, http.MethodPost, apitypes.RevokeLeakedPath, report, fromIP("203.0.113.10"))
		if !bytes.Equal(miss.Body, hit.Body) {
			t.Fatalf("answer to a report that matched nothing = %s, to a match %s: they must not differ", miss, hit)
		}
	}

	var page apitypes.ActivityPage
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, "/api/v1/activities", nil, basic("alice", alicePW)), &page)
	found := 0
	for _, a := range page.Activities {
		if a.Action == "token.revoke" && a.TokenName == "ci" && strings.Contains(a.Detail, leakSource) {
			found++
			if a.ClientIP != "203.0.113.9" || a.Actor != "leak report" {
				t.Fatalf("leak entry %+v: want the reporter's address and the leak-report actor", a)
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d leak entries in alice's activity, want 1: %+v", found, page.Activities)
	}
	if strings.Contains(s.Log.String(), leaked.Token) {
		t.Fatal("the server log holds the reported token")
	}
}

func TestRevokeLeakedMalformed(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}})
	many := make([]string, 101)
	for i := range many {
		many[i] = "ptk_x"
	}
	for _, c := range []struct {
		body any
		want string
	}{
		{`{"tokens": "ptk_x", "source": "https://x.example"}`, "tokens: must be a JSON []string"},
		{`{"tokens": [], "source": "https://x.example"}`, "tokens: must list 1 to 100"},
		{apitypes.RevokeLeakedRequest{Tokens: many, Source: leakSource}, "(101 given)"},
		{apitypes.RevokeLeakedRequest{Tokens: []string{"ptk_x"}, Source: "somewhere"}, "source: must be the absolute https:// URL"},
		{`{"tokens": ["ptk_x"], "source": "https://x.example", "extra": 1}`, "malformed JSON"},
		{`not json`, "malformed JSON"},
	} {
		r := s.Expect(http.StatusBadRequest, http.MethodPost, apitypes.RevokeLeakedPath, c.body, fromIP("198.51.100.1"))
		if !strings.Contains(r.Message(), c.want) {
			t.Errorf("%v: message %q, want it to contain %q", c.body, r.Message(), c.want)
		}
	}
}

// One address sending 1 000 reports is held back after a burst, and
// another address is not.
func TestRevokeLeakedThrottled(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}})
	madeUp, _ := apptoken.New()
	limited, accepted := 0, 0
	for range 1000 {
		r := s.Do(http.MethodPost, apitypes.RevokeLeakedPath, leakReport(madeUp), fromIP("192.0.2.66"))
		switch r.Status {
		case http.StatusTooManyRequests:
			limited++
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		case http.StatusAccepted:
			accepted++
		default:
			t.Fatalf("report answered %s", r)
		}
	}
	t.Logf("1000 reports from one address: %d accepted, %d answered 429", accepted, limited)
	if accepted > 20 || limited < 980 {
		t.Fatalf("%d accepted, %d throttled; want at most 20 accepted", accepted, limited)
	}
	s.Expect(http.StatusAccepted, http.MethodPost, apitypes.RevokeLeakedPath, leakReport(madeUp), fromIP("192.0.2.67"))
}

// BenchmarkRevokeLeaked compares the answer time of a report that revokes
// a live token with one that matches nothing: the goal is a ratio near 1
// (both are held to the floor of account.RevokeLeaked). Each report comes
// from its own address, past the throttle.
func BenchmarkRevokeLeaked(b *testing.B) {
	s := testserver.Start(b, testserver.Options{TrustedProxies: []string{"127.0.0.1"}, MaxTokens: 1 << 20, Log: discard{}})
	s.AddUser("alice", alicePW, false)
	n := 0
	report := func(b *testing.B, tokens ...string) {
		n++
		r := s.Do(http.MethodPost, apitypes.RevokeLeakedPath, leakReport(tokens...), fromIP(fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)))
		if r.Status != http.StatusAccepted {
			b.Fatalf("report: %s", r)
		}
	}
	b.Run("match", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			tok := s.CreateToken("alice", alicePW, tokenReq(fmt.Sprintf("leak%d", n))).Token
			b.StartTimer()
			report(b, tok)
		}
	})
	b.Run("nomatch", func(b *testing.B) {
		madeUp, _ := apptoken.New()
		for b.Loop() {
			report(b, madeUp)
		}
	})
	// A full report: 100 live tokens against 100 made-up ones. Each match
	// costs store writes, so without the floor holding them the time
	// would tell how many matched.
	b.Run("match100", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			tokens := make([]string, account.MaxLeakReportTokens)
			for i := range tokens {
				tokens[i] = s.CreateToken("alice", alicePW, tokenReq(fmt.Sprintf("leak%d-%d", n, i))).Token
			}
			b.StartTimer()
			report(b, tokens...)
		}
	})
	b.Run("nomatch100", func(b *testing.B) {
		tokens := make([]string, account.MaxLeakReportTokens)
		for i := range tokens {
			tokens[i], _ = apptoken.New()
		}
		for b.Loop() {
			report(b, tokens...)
		}
	})
}
