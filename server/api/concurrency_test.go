package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// TestConcurrentCreatesAcross20Users: 200 token creations at once over
// HTTP, 10 for each of 20 users, against the real router and bbolt file:
// every user ends with exactly the limit, the others get the 422 that
// names it, and every token that was answered 201 works. The users come
// from one address (behind one NAT: their password checks take turns) or
// each from an address of its own (20 CI machines).
func TestConcurrentCreatesAcross20Users(t *testing.T) {
	t.Run("one address", func(t *testing.T) { concurrentCreates(t, false) })
	t.Run("an address each", func(t *testing.T) { concurrentCreates(t, true) })
}

func concurrentCreates(t *testing.T, addressEach bool) {
	const users, perUser, limit = 20, 10, 5
	s := testserver.Start(t, testserver.Options{MaxTokens: limit, TrustedProxies: []string{"127.0.0.1", "::1"}})
	name := func(u int) string { return fmt.Sprintf("user%02d", u) }
	for u := range users {
		s.AddUser(name(u), name(u)+"-password", false)
	}

	type result struct {
		user   int
		status int
		msg    string
		token  string
	}
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make(chan result, users*perUser)
	)
	for u := range users {
		for i := range perUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				opts := []testserver.Opt{testserver.Basic(name(u), name(u)+"-password")}
				if addressEach {
					opts = append(opts, testserver.FromIP(fmt.Sprintf("198.51.100.%d", u+1)))
				}
				r, err := s.Request(http.MethodPost, apitypes.TokensPath, apitypes.CreateTokenRequest{Name: fmt.Sprintf("machine-%02d", i)}, opts...)
				if err != nil {
					t.Errorf("%s #%d: %v", name(u), i, err)
					return
				}
				res := result{user: u, status: r.Status, msg: r.Message()}
				if r.Status == http.StatusCreated {
					var tok apitypes.CreatedToken
					testserver.Decode(t, r, &tok)
					res.token = tok.Token
				}
				results <- res
			}()
		}
	}
	close(start)
	wg.Wait()
	close(results)

	created := make([][]string, users)
	statuses := map[int]int{}
	for r := range results {
		statuses[r.status]++
		switch r.status {
		case http.StatusCreated:
			created[r.user] = append(created[r.user], r.token)
		case http.StatusUnprocessableEntity:
			if !strings.HasPrefix(r.msg, fmt.Sprintf("users cannot have more than %d application tokens", limit)) {
				t.Errorf("%s: 422 %q", name(r.user), r.msg)
			}
		}
	}
	if statuses[201] != users*limit || statuses[422] != users*(perUser-limit) || len(statuses) != 2 {
		t.Fatalf("statuses %v, want %d×201 and %d×422", statuses, users*limit, users*(perUser-limit))
	}
	for u := range users {
		if len(created[u]) != limit {
			t.Errorf("%s: %d creations answered 201, want %d", name(u), len(created[u]), limit)
		}
		var list []apitypes.Token
		testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, testserver.Basic(name(u), name(u)+"-password")), &list)
		if len(list) != limit {
			t.Errorf("%s holds %d tokens, want exactly %d", name(u), len(list), limit)
		}
		for _, tok := range created[u] {
			s.Expect(http.StatusOK, http.MethodGet, "/v2/token?service=registry", nil, testserver.Basic(name(u), tok))
		}
	}
	if n, err := s.Core.Store.TokenCount(); err != nil || n != users*limit {
		t.Errorf("the store holds %d tokens (%v), want %d", n, err, users*limit)
	}
}
