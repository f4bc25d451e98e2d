package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/portusproject/portus/shared/apptoken"
)

// wineCreds is the helper protocol's credentials, as get prints them.
type wineCreds struct{ ServerURL, Username, Secret string }

// getCreds runs get for server and decodes its answer.
func (h *wineHost) getCreds(t *testing.T, server string) wineCreds {
	t.Helper()
	out := h.mustHelper(t, server+"\n", "get")
	var c wineCreds
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("get %s printed %s: %v", server, redactSecrets(out), err)
	}
	return c
}

// list runs list and decodes its answer.
func (h *wineHost) list(t *testing.T) map[string]string {
	t.Helper()
	out := h.mustHelper(t, "", "list")
	var m map[string]string
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("list printed %s: %v", out, err)
	}
	return m
}

// wantNotFound checks that get for server fails as docker expects of a
// missing item.
func (h *wineHost) wantNotFound(t *testing.T, server string) {
	t.Helper()
	out, _, code := h.helper(server+"\n", "get")
	if code != 1 || strings.TrimSpace(out) != "credentials not found in native keychain" {
		t.Fatalf("get %s: exit %d, %s; want exit 1, credentials not found in native keychain", server, code, redactSecrets(out))
	}
}

// TestWineHelperLoginCycle is docker login, a pull's get, docker logout on
// Windows: the helper's .exe exchanges the password for a token at a real
// portus serve (found through a real registry's challenge), keeps the token
// in the Credential Manager, and revokes it on erase.
func TestWineHelperLoginCycle(t *testing.T) {
	h := newWineHost(t)
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)

	phase(t, "version", func(t *testing.T) {
		if out := h.mustHelper(t, "", "version"); !strings.HasPrefix(out, "docker-credential-portus (github.com/portusproject/portus) "+wineReleaseVersion) {
			t.Fatalf("version: %q", out)
		}
	})
	var token string
	phase(t, "store", func(t *testing.T) {
		h.mustHelper(t, storeJSON(reg.Host, "alice", "alice-password"), "store")
		if n := len(helperTokens(t, p)); n != 1 {
			t.Fatalf("after store the server lists %d helper tokens, want 1", n)
		}
		want := "docker-credential-portus:" + reg.Host
		if names := h.credentialNames(t); !slices.Contains(names, want) {
			t.Fatalf("the Credential Manager holds %q, not %q", names, want)
		}
	})
	phase(t, "get", func(t *testing.T) {
		c := h.getCreds(t, reg.Host)
		if c.Username != "alice" || !apptoken.Valid(c.Secret) || c.ServerURL != reg.Host {
			t.Fatalf("get returned %s", redactSecrets(fmt.Sprint(c)))
		}
		token = c.Secret
		if code := registryTokenStatus(t, p, "alice", token, "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("/v2/token with the stored token = %d, want 200", code)
		}
		// Another spelling of the same registry finds the same item.
		if c := h.getCreds(t, "https://"+strings.ToUpper(reg.Host)); c.Secret != token {
			t.Fatal("get with another spelling of the registry returned another secret")
		}
	})
	phase(t, "list", func(t *testing.T) {
		if got := h.list(t); len(got) != 1 || got[reg.Host] != "alice" {
			t.Fatalf("list = %v, want {%s: alice}", got, reg.Host)
		}
	})
	phase(t, "erase", func(t *testing.T) {
		h.mustHelper(t, reg.Host+"\n", "erase")
		if n := len(helperTokens(t, p)); n != 0 {
			t.Fatalf("after erase the server lists %d helper tokens, want 0", n)
		}
		if code := registryTokenStatus(t, p, "alice", token, "repository:alice/app:pull"); code != http.StatusUnauthorized {
			t.Fatalf("/v2/token with the erased token = %d, want 401", code)
		}
		h.wantNotFound(t, reg.Host)
		if got := h.list(t); len(got) != 0 {
			t.Fatalf("list after erase = %v", got)
		}
		for _, name := range h.credentialNames(t) {
			if strings.HasPrefix(name, "docker-credential-portus:") {
				t.Fatalf("the Credential Manager still holds %q", name)
			}
		}
		// docker logout erases up to four spellings: the others find nothing
		// and succeed.
		h.mustHelper(t, "http://"+reg.Host+"\n", "erase")
	})
}

// TestWineKeyringValueLimit: the Windows Credential Manager holds at most
// 2,560 bytes per item (go-keyring refuses more with ErrSetDataTooBig). The
// Keychain's own limit (2,500 bytes) sits under it: a value of exactly that
// size goes in and comes back whole; one byte more is refused with a
// message that says why, and nothing is stored.
func TestWineKeyringValueLimit(t *testing.T) {
	h := newWineHost(t)
	const server = "big.example.com"
	// What a stored value adds to an identity token: the record around it.
	// Measured from the refusal of a clearly oversized one, which names the
	// value's size.
	const probe = 3000
	out, _, code := h.helper(storeJSON(server, "<token>", strings.Repeat("x", probe)), "store")
	m := regexp.MustCompile(`\((\d+) bytes, more than the 2500 a keyring item may hold\)`).FindStringSubmatch(out)
	if code != 1 || m == nil || !strings.Contains(out, "do not fit in a keyring item") {
		t.Fatalf("store of a %d-byte identity token: exit %d, %q; want exit 1 and a message naming the size and the limit", probe, code, out)
	}
	size, _ := strconv.Atoi(m[1])
	overhead := size - probe
	h.wantNotFound(t, server)

	fits := identityToken(2500 - overhead)
	h.mustHelper(t, storeJSON(server, "<token>", fits), "store")
	if c := h.getCreds(t, server); c.Secret != fits {
		t.Fatalf("a %d-byte value came back as %d bytes", 2500, len(c.Secret)+overhead)
	}

	// One byte more: refused, and the stored one stays.
	out, _, code = h.helper(storeJSON(server, "<token>", identityToken(2501-overhead)), "store")
	if code != 1 || !strings.Contains(out, "(2501 bytes, more than the 2500 a keyring item may hold)") {
		t.Fatalf("store of a 2501-byte value: exit %d, %q", code, out)
	}
	if c := h.getCreds(t, server); c.Secret != fits {
		t.Fatal("a refused store changed the stored value")
	}
}

// identityToken is an identity token of n printable bytes that are not all
// alike, so that a truncation or a shift shows.
func identityToken(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strconv.Itoa(i % 10))
	}
	return b.String()[:n]
}

// TestWineConcurrentStores: two docker logins to one registry at once,
// two helper processes under Wine. The per-server lock (a file lock in
// %APPDATA%) keeps them from interleaving: each round ends with one helper
// token on the server, and it is the one in the Credential Manager.
func TestWineConcurrentStores(t *testing.T) {
	h := newWineHost(t)
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	for round := 1; round <= 3; round++ {
		var wg sync.WaitGroup
		results := make([]string, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, errOut, code := h.helper(storeJSON(reg.Host, "alice", "alice-password"), "store")
				if code != 0 {
					results[i] = fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", code, redactSecrets(out), redactSecrets(errOut))
				}
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r != "" {
				t.Fatalf("round %d, store %d: %s", round, i+1, r)
			}
		}
		if n := len(helperTokens(t, p)); n != 1 {
			t.Fatalf("round %d: the server lists %d helper tokens, want 1", round, n)
		}
		c := h.getCreds(t, reg.Host)
		if code := registryTokenStatus(t, p, "alice", c.Secret, "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("round %d: /v2/token with the stored token = %d, want 200: the keyring kept a revoked token", round, code)
		}
	}
	port := reg.Host[strings.LastIndex(reg.Host, ":")+1:]
	if locks, _ := filepath.Glob(filepath.Join(h.appData(), "server-localhost_"+port+"-*.lock")); len(locks) != 1 {
		t.Fatalf("lock files of %s in %s: %v, want one", reg.Host, h.appData(), locks)
	}
}

// TestWineIndexPages: go-keyring cannot enumerate, so list reads the
// index, kept in pages of at most 2,500 bytes. Names long enough to need
// two pages, stored by processes running at once (the index lock), are
// all listed; erasing them shrinks the index back to one page.
func TestWineIndexPages(t *testing.T) {
	h := newWineHost(t)
	var servers []string
	for i := range 14 { // 14 names of about 200 bytes: over 2,500
		servers = append(servers, fmt.Sprintf("%s.%s.%s.r%02d.example.com",
			strings.Repeat("a", 60), strings.Repeat("b", 60), strings.Repeat("c", 60), i))
	}
	var wg sync.WaitGroup
	errs := make([]string, len(servers))
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, errOut, code := h.helper(storeJSON(s, "<token>", "identity-"+strconv.Itoa(i)), "store"); code != 0 {
				errs[i] = fmt.Sprintf("store %d: exit %d: %s %s", i, code, out, errOut)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	got := h.list(t)
	if len(got) != len(servers) {
		t.Fatalf("list names %d servers, want %d", len(got), len(servers))
	}
	for _, s := range servers {
		if got[s] != "<token>" {
			t.Fatalf("list lacks %s", s)
		}
	}
	pages := func() (n int) {
		for _, name := range h.credentialNames(t) {
			if strings.HasPrefix(name, "docker-credential-portus/index:") {
				n++
			}
		}
		return n
	}
	if n := pages(); n != 2 {
		t.Fatalf("the index of %d long names fills %d Credential Manager items, want 2", len(servers), n)
	}
	for _, s := range servers[1:] {
		h.mustHelper(t, s+"\n", "erase")
	}
	if got := h.list(t); len(got) != 1 || got[servers[0]] != "<token>" {
		t.Fatalf("list after erasing all but one = %v", got)
	}
	if n := pages(); n != 1 {
		t.Fatalf("after erasing all but one name the index fills %d items, want 1", n)
	}
	if c := h.getCreds(t, servers[0]); c.Secret != "identity-0" {
		t.Fatalf("the one left holds %q", c.Secret)
	}
}
