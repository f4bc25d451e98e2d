package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
)

// TestTokensOnlyFloodKeepsHistory replays issue 13's first attack: under
// docker_login tokens_only, a loop of password attempts at /v2/token ran
// unthrottled and each wrote an audit entry, until the cap pruned the
// history (user.create, token.create). Now 10 000 such attempts from one
// address meet 429s, and with many addresses (one name each, most of them
// unknown) the failures are pruned by their own cap: every history entry
// stays.
func TestTokensOnlyFloodKeepsHistory(t *testing.T) {
	const historyKeep, failureKeep = 200, 50
	s := start(t, testserver.Options{
		TrustedProxies: []string{"127.0.0.1", "::1"},
		Configure: func(c *config.Config) {
			c.DockerLogin = config.DockerLoginTokensOnly
			c.AuditKeep, c.FailureAuditKeep = historyKeep, failureKeep
		},
	})
	s.CreateToken("alice", alicePW, tokenReq("laptop"))
	s.CreateToken("bob", bobPW, tokenReq("ci"))
	history := historyOf(t, s)
	if len(history) < 5 {
		t.Fatalf("setup wrote %d history entries, want user and token creations", len(history))
	}

	statuses := map[int]int{}
	for range 10_000 {
		r := s.Do(http.MethodGet, registryTokenPath, nil, basic("alice", "not-a-token"), fromIP("203.0.113.7"))
		statuses[r.Status]++
	}
	if statuses[http.StatusTooManyRequests] < 9_900 || statuses[http.StatusOK] != 0 {
		t.Errorf("10 000 refused passwords from one address: statuses %v, want nearly all 429", statuses)
	}
	for i := range 2_000 {
		s.Do(http.MethodGet, registryTokenPath, nil, basic(fmt.Sprintf("nobody%d", i), "some-password"),
			fromIP(fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)))
	}

	after := historyOf(t, s)
	for id := range history {
		if _, ok := after[id]; !ok {
			t.Errorf("history entry %d (%s) was pruned by the flood", id, history[id])
		}
	}
	entries, err := s.Core.Store.Activities(model.ActivityQuery{Limit: historyKeep + 10*failureKeep})
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	for _, a := range entries {
		if a.Failure() {
			failures++
		}
	}
	if failures == 0 || failures > failureKeep {
		t.Errorf("%d failure entries kept, want between 1 and the cap %d", failures, failureKeep)
	}
}

// historyOf returns the audit log's history entries by id.
func historyOf(t *testing.T, s *testserver.Server) map[uint64]string {
	t.Helper()
	entries, err := s.Core.Accounts.Activities(account.Principal{Local: true}, "", 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for _, a := range entries {
		if !a.Failure() {
			out[a.ID] = a.Action
		}
	}
	return out
}
