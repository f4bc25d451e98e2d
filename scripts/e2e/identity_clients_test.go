package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
)

// TestIdentityTokenNotForTokensOrTokensOnly: docker login with an
// application token as the password makes no login token (the client
// keeps a token already); a tokens_only user's password login fails,
// saying to use a token, and makes none either.
func TestIdentityTokenNotForTokensOrTokensOnly(t *testing.T) {
	d := startDockerd(t)
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	p.createUser(t, "bob", "bob-password", false)
	p.portus(t, "", "user", "set-docker-login", "bob", "tokens_only")

	phase(t, "application token", func(t *testing.T) {
		env, _ := dockerClientEnv(t, `{}`)
		app := p.createToken(t, "alice", "laptop", "push")
		d.MustDocker(t, env, app, "login", reg.Host, "-u", "alice", "--password-stdin")
		login, apps := tokensOf(t, p, "alice", "alice-password")
		if len(login) != 0 || len(apps) != 1 {
			t.Fatalf("docker login with an application token: %d login tokens and %d application tokens, want 0 and 1", len(login), len(apps))
		}
		ref := reg.Host + "/alice/app-token:v1"
		d.BuildScratch(t, env, ref, "pushed with an application token")
		d.MustDocker(t, env, "", "push", ref)
	})
	phase(t, "tokens_only", func(t *testing.T) {
		env, _ := dockerClientEnv(t, `{}`)
		out, err := d.Docker(env, "bob-password", "login", reg.Host, "-u", "bob", "--password-stdin")
		if err == nil {
			t.Fatalf("docker login with bob's password under tokens_only succeeded:\n%s", testutil.RedactTokens(out))
		}
		if !strings.Contains(out, "create an application token") {
			t.Errorf("the refusal does not say to use an application token:\n%s", out)
		}
		testutil.NoSecret(t, "docker login", out, "bob-password")
		if login, _ := tokensOf(t, p, "bob", tokenFor(t, p, "bob")); len(login) != 0 {
			t.Fatalf("a refused login made %d login tokens", len(login))
		}
	})
}

// tokenFor makes an application token for user, to ask the API with
// where the password does not work.
func tokenFor(t *testing.T, p *portusServer, user string) string {
	t.Helper()
	return p.createToken(t, user, "api-check", "pull")
}

// TestIdentityTokenOtherClients: containerd (the daemon's, through ctr,
// which POSTs first) pulls with an application token as the password, and
// crane pulls with an identity token from a docker login.
func TestIdentityTokenOtherClients(t *testing.T) {
	d := startDockerd(t)
	ctr := requireTool(t, "ctr")
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	env, dir := dockerClientEnv(t, `{}`)
	ref := reg.Host + "/alice/clients:v1"
	d.MustDocker(t, env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
	identity := identityOf(t, dir, reg.Host, "alice", "alice-password")
	d.BuildScratch(t, env, ref, "for other clients")
	d.MustDocker(t, env, "", "push", ref)

	phase(t, "ctr", func(t *testing.T) {
		app := p.createToken(t, "alice", "containerd", "pull")
		mark := len(p.log.String())
		cmd := exec.Command(ctr, "--address", d.ContainerdSock, "--namespace", "portus-e2e",
			"images", "pull", "--plain-http", "--user", "alice:"+app, ref)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ctr images pull: %v\n%s", err, testutil.RedactTokens(string(out)))
		}
		testutil.NoSecret(t, "ctr", string(out), app)
		if posts, gets := tokenRequests(p, mark); posts == 0 || gets != 0 {
			t.Errorf("ctr's pull: %d POST and %d GET /v2/token answered 200, want containerd's POST only", posts, gets)
		}
		cmd = exec.Command(ctr, "--address", d.ContainerdSock, "--namespace", "portus-e2e",
			"images", "pull", "--plain-http", "--user", "alice:wrong-password", ref)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("ctr images pull with a wrong password succeeded:\n%s", out)
		}
	})
	phase(t, "crane", func(t *testing.T) {
		c := newCrane(t)
		writeIdentityConfig(t, c.config, reg.Host, identity)
		mark := len(p.log.String())
		if out, err := c.run("pull", ref, filepath.Join(t.TempDir(), "image.tar")); err != nil {
			t.Fatalf("crane pull with an identity token: %v\n%s", err, testutil.RedactTokens(out))
		}
		if posts, gets := tokenRequests(p, mark); posts == 0 || gets != 0 {
			t.Errorf("crane's pull: %d POST and %d GET /v2/token answered 200, want the refresh grant (POST) only", posts, gets)
		}
	})
}

// tokenRequests counts the POST and GET /v2/token requests that p's access
// log shows answered 200 after byte offset mark of its log.
func tokenRequests(p *portusServer, mark int) (posts, gets int) {
	for _, line := range strings.Split(p.log.String()[mark:], "\n") {
		if !strings.Contains(line, "path=/v2/token ") || !strings.Contains(line, "status=200") {
			continue
		}
		switch {
		case strings.Contains(line, "method=POST"):
			posts++
		case strings.Contains(line, "method=GET"):
			gets++
		}
	}
	return posts, gets
}
