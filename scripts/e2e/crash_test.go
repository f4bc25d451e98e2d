package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// Crash test: `portus serve` is killed with SIGKILL at random moments while
// clients create and revoke tokens over HTTP. After every restart the bbolt
// file passes bbolt's consistency check and opens, every token whose
// creation was answered 201 works at /v2/token unless its revocation was
// answered 204, and no token whose revocation was answered 204 works.
// Requests cut off by the kill may have happened or not: both are fine.

const (
	crashMinRounds = 20
	crashMaxRounds = 30
	// Rounds beyond the minimum run only while the test is younger than
	// this, so that a slow machine does the minimum and no more.
	crashExtraUntil = 40 * time.Second
	// Creations pause while this many tokens are alive, so that the
	// checks after each restart stay bounded.
	crashMaxLive = 150
)

type crashState int

const (
	crashLive         crashState = iota // created (201), not revoked
	crashRevoking                       // a revocation is in flight
	crashRevoked                        // revocation answered 204
	crashMaybeRevoked                   // the revocation's answer was cut off
)

type crashToken struct {
	id, owner, plain string
	state            crashState
	// checked: a 204-revoked token was refused at /v2/token after a
	// restart that followed its revocation.
	checked bool
}

// crashBook is what the clients were told, the truth the server must keep.
type crashBook struct {
	mu     sync.Mutex
	tokens []*crashToken
	live   int

	created, revoked atomic.Int64 // acknowledged (201, 204)
	cutOff           atomic.Int64 // requests whose answer the kill cut off
	checks           atomic.Int64 // /v2/token requests after restarts

	errMu sync.Mutex
	errs  []string
}

func (b *crashBook) fail(format string, args ...any) {
	b.errMu.Lock()
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
	b.errMu.Unlock()
}

func (b *crashBook) problems() []string {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return slices.Clone(b.errs)
}

func (b *crashBook) add(tok *crashToken) {
	b.mu.Lock()
	b.tokens = append(b.tokens, tok)
	b.live++
	b.mu.Unlock()
	b.created.Add(1)
}

func (b *crashBook) liveCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// pick takes a random live token for revocation.
func (b *crashBook) pick(r *rand.Rand) *crashToken {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.live < 10 {
		return nil
	}
	for range 20 {
		tok := b.tokens[r.IntN(len(b.tokens))]
		if tok.state == crashLive {
			tok.state = crashRevoking
			b.live--
			return tok
		}
	}
	return nil
}

func (b *crashBook) settle(tok *crashToken, s crashState) {
	b.mu.Lock()
	tok.state = s
	if s == crashLive {
		b.live++
	}
	b.mu.Unlock()
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	users := []string{"crash0", "crash1"}
	const password = "crash-password-1"
	for _, u := range users {
		offlinePortus(t, data, password+"\n", "user", "create", u, "--password-stdin")
	}
	flags := []string{"--max-tokens", "100000", "--trusted-proxy", "127.0.0.1", "--flush-interval", "1s"}
	book := &crashBook{}
	var addrs atomic.Int64 // X-Forwarded-For addresses, one per check
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t.Logf("crash test seed time %s", time.Now().Format(time.RFC3339Nano))
	start := time.Now()

	rounds := 0
	for rounds < crashMaxRounds && (rounds < crashMinRounds || time.Since(start) < crashExtraUntil) {
		phase(t, fmt.Sprintf("round %d", rounds+1), func(t *testing.T) {
			if problems := checkBolt(t, filepath.Join(data, "portus.db")); rounds > 0 && len(problems) > 0 {
				t.Fatalf("after kill %d the bbolt file fails its check:\n%s", rounds, joinProblems(problems))
			}
			p := startPortusOn(t, data, flags...)
			crashVerify(t, p, book, users, &addrs, false)

			// Load, then SIGKILL at a random moment.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			public, sock := newSrvClient(), adminSocketClient(data)
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					crashWorker(i, p, public, sock, book, users, password, stop, &addrs, rounds)
				}()
			}
			time.Sleep(time.Duration(50+rng.IntN(550)) * time.Millisecond)
			p.kill()
			close(stop)
			wg.Wait()
			public.CloseIdleConnections()
			sock.CloseIdleConnections()
			rounds++
			if errs := book.problems(); len(errs) > 0 {
				t.Fatalf("round %d:\n%s", rounds, joinProblems(errs))
			}
		})
	}

	phase(t, "after the last kill", func(t *testing.T) {
		// The last kill is checked too, then every revoked token once more.
		if problems := checkBolt(t, filepath.Join(data, "portus.db")); len(problems) > 0 {
			t.Fatalf("after the last kill the bbolt file fails its check:\n%s", joinProblems(problems))
		}
		p := startPortusOn(t, data, flags...)
		crashVerify(t, p, book, users, &addrs, true)
		if errs := book.problems(); len(errs) > 0 {
			t.Fatalf("after the last restart:\n%s", joinProblems(errs))
		}
	})
	book.mu.Lock()
	live, revoked := book.live, 0
	for _, tok := range book.tokens {
		if tok.state == crashRevoked {
			revoked++
		}
	}
	book.mu.Unlock()
	t.Logf("crash test: %d SIGKILL rounds survived in %s; acknowledged writes checked: %d creations (201) and %d revocations (204); %d requests cut off by the kills; %d /v2/token checks after restarts; at the end %d tokens alive and %d revoked, all as acknowledged",
		rounds, time.Since(start).Round(time.Millisecond), book.created.Load(), book.revoked.Load(), book.cutOff.Load(), book.checks.Load(), live, revoked)
	if book.created.Load() < int64(rounds) || book.revoked.Load() == 0 {
		t.Errorf("too little load to prove anything: %d creations, %d revocations", book.created.Load(), book.revoked.Load())
	}
}

// crashWorker runs one client until stop: worker 0 creates tokens over the
// admin socket (cheap), worker 1 over the public API with a password, the
// others revoke tokens with the token itself.
func crashWorker(i int, p *portusServer, public, sock *http.Client, book *crashBook, users []string, password string, stop <-chan struct{}, addrs *atomic.Int64, round int) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		owner := users[r.IntN(len(users))]
		switch i {
		case 0, 1:
			if book.liveCount() >= crashMaxLive {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			name := fmt.Sprintf("r%d-w%d-%d", round, i, n)
			q := srvReq{method: http.MethodPost, url: adminSocketURL + "/api/v1/users/" + owner + "/tokens",
				body: apitypes.CreateTokenRequest{Name: name, Scope: "pull"}}
			client := sock
			if i == 1 {
				owner = users[0]
				q = srvReq{method: http.MethodPost, url: p.URL + apitypes.TokensPath, user: owner, pass: password,
					from: "192.0.2.1", body: apitypes.CreateTokenRequest{Name: name, Scope: "pull"}}
				client = public
			}
			reply, err := q.do(client)
			if err != nil {
				book.cutOff.Add(1)
				return // killed: the outcome is unknown, and no plaintext
			}
			if reply.status != http.StatusCreated {
				book.fail("creating %s: %s", name, reply)
				return
			}
			var created apitypes.CreatedToken
			if err := json.Unmarshal(reply.body, &created); err != nil || created.Token == "" {
				book.fail("creating %s: undecodable answer %s", name, reply)
				return
			}
			book.add(&crashToken{id: created.ID, owner: owner, plain: created.Token})
		default:
			tok := book.pick(r)
			if tok == nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			reply, err := srvReq{method: http.MethodDelete, url: p.URL + apitypes.CurrentTokenPath,
				user: tok.owner, pass: tok.plain, from: fakeAddr(int(addrs.Add(1)))}.do(public)
			switch {
			case err != nil:
				book.settle(tok, crashMaybeRevoked)
				book.cutOff.Add(1)
				return
			case reply.status == http.StatusNoContent:
				book.settle(tok, crashRevoked)
				book.revoked.Add(1)
			default:
				book.settle(tok, crashLive)
				book.fail("revoking acknowledged token %s of %s: %s", tok.id, tok.owner, reply)
				return
			}
		}
	}
}

// crashVerify checks a freshly restarted server against the book: the
// stored token lists, then /v2/token for every live token, for tokens
// whose revocation was cut off (which then count as whatever they turn out
// to be), and for 204-revoked tokens not yet checked (all of them when
// all is set).
func crashVerify(t *testing.T, p *portusServer, book *crashBook, users []string, addrs *atomic.Int64, all bool) {
	t.Helper()
	sock := adminSocketClient(p.Data)
	defer sock.CloseIdleConnections()
	stored := map[string]bool{}
	for _, u := range users {
		reply, err := srvReq{method: http.MethodGet, url: adminSocketURL + "/api/v1/users/" + u + "/tokens"}.do(sock)
		if err != nil || reply.status != http.StatusOK {
			t.Fatalf("listing %s's tokens after the restart: %v %s", u, err, reply)
		}
		var list []apitypes.Token
		if err := json.Unmarshal(reply.body, &list); err != nil {
			t.Fatal(err)
		}
		for _, tok := range list {
			stored[tok.ID] = true
		}
	}

	book.mu.Lock()
	var todo []*crashToken
	for _, tok := range book.tokens {
		switch {
		case tok.state == crashLive && !stored[tok.id]:
			book.fail("token %s of %s, created with 201, is not stored", tok.id, tok.owner)
		case tok.state == crashRevoked && stored[tok.id]:
			book.fail("token %s of %s, revoked with 204, is still stored", tok.id, tok.owner)
		}
		if tok.state == crashLive || tok.state == crashMaybeRevoked || (tok.state == crashRevoked && (!tok.checked || all)) {
			todo = append(todo, tok)
		}
	}
	book.mu.Unlock()

	client := newSrvClient()
	defer client.CloseIdleConnections()
	work := make(chan *crashToken)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range work {
				reply, err := srvReq{method: http.MethodGet, url: registryTokenURL(p.URL),
					user: tok.owner, pass: tok.plain, from: fakeAddr(int(addrs.Add(1)))}.do(client)
				book.checks.Add(1)
				if err != nil {
					book.fail("/v2/token for %s: %v", tok.id, err)
					continue
				}
				book.mu.Lock()
				state := tok.state
				book.mu.Unlock()
				switch {
				case state == crashLive && reply.status != http.StatusOK:
					book.fail("token %s of %s, created with 201 and never revoked, gets %s at /v2/token", tok.id, tok.owner, reply)
				case state == crashRevoked && reply.status != http.StatusUnauthorized:
					book.fail("token %s of %s, revoked with 204, gets %s at /v2/token", tok.id, tok.owner, reply)
				case state == crashRevoked:
					book.mu.Lock()
					tok.checked = true
					book.mu.Unlock()
				case state == crashMaybeRevoked && reply.status == http.StatusOK && stored[tok.id]:
					book.settle(tok, crashLive)
				case state == crashMaybeRevoked && reply.status == http.StatusUnauthorized && !stored[tok.id]:
					book.mu.Lock()
					tok.state, tok.checked = crashRevoked, true
					book.mu.Unlock()
				case state == crashMaybeRevoked:
					book.fail("token %s with a cut-off revocation: stored %v, /v2/token %s", tok.id, stored[tok.id], reply)
				}
			}
		}()
	}
	for _, tok := range todo {
		work <- tok
	}
	close(work)
	wg.Wait()
}
