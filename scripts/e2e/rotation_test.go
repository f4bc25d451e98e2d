package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// registryPool is what a load balancer in front of the registry does
// during a restart: requests go to the registry in service, and a new
// one takes over only after the old one finished its requests.
type registryPool struct {
	mu  sync.RWMutex
	cur *registry
}

// replace starts a registry on the same storage with a fresh
// `registry-config`, puts it in service and stops the old one.
func (p *registryPool) replace(t *testing.T, portus *portusServer, dir string) {
	t.Helper()
	next := startRegistryIn(t, portus, dir)
	p.mu.Lock()
	old := p.cur
	p.cur = next
	p.mu.Unlock()
	old.proc.Kill()
}

// pullLoop pulls a manifest with a fresh bearer token from /v2/token
// until stop is closed, and counts the requests and the failures.
type pullLoop struct {
	requests, failures atomic.Int64
	firstFailure       atomic.Value
	stop, done         chan struct{}
}

func startPullLoop(p *portusServer, pool *registryPool, user, secret, repo string) *pullLoop {
	l := &pullLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			tok, err := bearerToken(p, user, secret, "repository:"+repo+":pull")
			if err == nil {
				pool.mu.RLock()
				_, err = pullManifest(pool.cur.Host, repo, tok)
				pool.mu.RUnlock()
			}
			l.requests.Add(2) // the token and the manifest
			if err != nil {
				l.failures.Add(1)
				l.firstFailure.CompareAndSwap(nil, err.Error())
			}
		}
	}()
	return l
}

func (l *pullLoop) finish() (requests, failures int64, first string) {
	close(l.stop)
	<-l.done
	first, _ = l.firstFailure.Load().(string)
	return l.requests.Load(), l.failures.Load(), first
}

// bearerToken asks /v2/token for scope as docker would.
func bearerToken(p *portusServer, user, secret, scope string) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v2/token?service=registry&scope="+scope, nil)
	req.SetBasicAuth(user, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body apitypes.RegistryToken
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/v2/token answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	return body.Token, nil
}

// pullManifest GETs the manifest of repo:latest with a bearer token and
// returns the status; anything but 200 is an error too.
func pullManifest(host, repo, token string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/latest", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s manifest: %s", repo, resp.Status)
	}
	return resp.StatusCode, nil
}

// TestRotationWithoutDowntime rotates the signing key of a running portus
// serve behind a real docker-registry, following README "Rotating the
// signing key", while a pull loop runs: no request may fail, a token of
// the old key works until the old certificate is retired and the
// registry restarted, one of the new key from its activation.
func TestRotationWithoutDowntime(t *testing.T) {
	p := startPortus(t)
	dir := t.TempDir()
	pool := &registryPool{cur: startRegistryIn(t, p, dir)}
	p.createUser(t, "alice", "alice-password", false)
	token := p.createToken(t, "alice", "ci", "push")
	c := newCrane(t)
	c.login(t, pool.cur.Host, "alice", token)
	if out, err := c.push(pool.cur.Host+"/alice/app:latest", "rotation"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}

	loop := startPullLoop(p, pool, "alice", token, "alice/app")
	defer func() {
		if loop != nil {
			loop.finish()
		}
	}()
	works := func(what, tok string, want int) {
		t.Helper()
		pool.mu.RLock()
		code, _ := pullManifest(pool.cur.Host, "alice/app", tok)
		pool.mu.RUnlock()
		if code != want {
			t.Errorf("%s: registry answered %d, want %d", what, code, want)
		}
	}
	tokenNow := func() string {
		t.Helper()
		tok, err := bearerToken(p, "alice", token, "repository:alice/app:pull")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	before := tokenNow()
	outer := t // registries started in a phase must outlive it

	phase(t, "rotate, registry-config, restart", func(t *testing.T) {
		out := p.portus(t, "", "signing-key", "rotate")
		if !strings.Contains(out, "next") {
			t.Fatalf("status after rotate:\n%s", out)
		}
		pool.replace(outer, p, dir)
		works("a token of the current key on the new bundle", before, http.StatusOK)
		time.Sleep(500 * time.Millisecond) // the loop pulls in each state
	})
	var after string
	phase(t, "activate", func(t *testing.T) {
		p.portus(t, "", "signing-key", "activate")
		after = tokenNow()
		if kidOf(t, after) == kidOf(t, before) {
			t.Fatal("the token issued after activate has the old key ID")
		}
		works("a token issued before activation", before, http.StatusOK)
		works("a token issued after activation", after, http.StatusOK)
		time.Sleep(500 * time.Millisecond)
	})
	phase(t, "retire, registry-config, restart", func(t *testing.T) {
		_, errOut, err := p.try("", "signing-key", "retire")
		if err == nil || !strings.Contains(errOut, "--force") {
			t.Fatalf("retire right after activation: %v\n%s", err, errOut)
		}
		p.portus(t, "", "signing-key", "retire", "--force")
		pool.replace(outer, p, dir)
		works("the old key's token after retire", before, http.StatusUnauthorized)
		works("the new key's token after retire", after, http.StatusOK)
	})
	time.Sleep(200 * time.Millisecond)
	requests, failures, first := loop.finish()
	loop = nil
	t.Logf("pull loop: %d requests, %d failed", requests, failures)
	if failures > 0 || requests < 20 {
		t.Errorf("pull loop: %d of %d requests failed (first: %s)", failures, requests, first)
	}
	if out := p.portus(t, "", "signing-key", "status"); strings.Count(out, "ES256") != 1 {
		t.Errorf("status after retire:\n%s", out)
	}
}

// kidOf returns the kid header of a JWT.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(data, &h) != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.Kid
}
