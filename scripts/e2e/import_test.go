package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
)

// TestImportFromHtpasswd is the switch from a registry on htpasswd: a
// file written by Debian's htpasswd -B (3 users, and an MD5 line the
// import refuses by its number) and a docker_auth configuration (2 users)
// are imported; the registry's own config.yml gets Portus' auth: block
// with storage, http and notifications kept byte for byte, and starts;
// then every user's old password works for the web sign-in and for
// docker login through the real daemon, an old password is argon2id
// after one sign-in, and a wrong one fails and is throttled.
func TestImportFromHtpasswd(t *testing.T) {
	htpasswd := requireTool(t, "htpasswd")
	exe := registryBinary(t, "2.8.2")
	d := startDockerd(t)
	dir := t.TempDir()
	passwords := map[string]string{"alice": "alice-old-1", "bob": "bob-old-22", "carol": "carol-old-333", "erin": "erin-old-4", "frank": "frank-old-55"}

	file := filepath.Join(dir, "htpasswd")
	for i, name := range []string{"alice", "bob", "carol"} {
		args := []string{"-B", "-i", file, name}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		runStdin(t, passwords[name], htpasswd, args...)
	}
	runStdin(t, "dave-old-6", htpasswd, "-m", "-i", file, "dave") // MD5: line 4
	dockerAuth := filepath.Join(dir, "auth_config.yml")
	var users strings.Builder
	for _, name := range []string{"erin", "frank"} {
		line := strings.TrimSpace(runStdin(t, passwords[name], htpasswd, "-n", "-B", "-i", name))
		fmt.Fprintf(&users, "  %q:\n    password: %q\n", name, strings.TrimPrefix(line, name+":"))
	}
	writeTestFile(t, dockerAuth, "server:\n  addr: \":5001\"\nusers:\n"+users.String()+
		"acl:\n  - match: {account: \"erin\"}\n    actions: [\"*\"]\n  - match: {account: \"/.+/\", name: \"${account}/*\"}\n    actions: [\"*\"]\n")

	p := startPortus(t)
	var out, errOut string
	phase(t, "import", func(t *testing.T) {
		if out := p.portus(t, "", "user", "import", "--docker-auth", dockerAuth, "--dry-run"); strings.Count(out, "would create") != 2 {
			t.Fatalf("docker_auth dry run:\n%s", out)
		}
		var err error
		out, errOut, err = p.try("", "user", "import", "--htpasswd", file, "--admin", "alice")
		if err == nil || !strings.Contains(errOut, "refused line(s) 4") || !regexp.MustCompile(`(?m)^4 +dave +refused +password hash: an MD5`).MatchString(out) {
			t.Fatalf("htpasswd import: %v\n%s\n%s", err, out, errOut)
		}
		if strings.Count(out, "created") != 3 {
			t.Fatalf("htpasswd import:\n%s", out)
		}
		out = p.portus(t, "", "user", "import", "--docker-auth", dockerAuth)
		if strings.Count(out, "created") != 2 || !strings.Contains(out, `account="erin"`) || !strings.Contains(out, "--admin erin") {
			t.Fatalf("docker_auth import:\n%s", out)
		}
	})

	var reg *registry
	outer := t // the registry serves the later steps
	phase(t, "registry-config rewrite", func(*testing.T) {
		reg = startRewrittenRegistry(outer, p, exe, dir, file)
	})

	phase(t, "old passwords", func(t *testing.T) {
		for name, pw := range passwords {
			if name == "bob" || name == "frank" { // docker login first
				env, _ := dockerClientEnv(t, "")
				d.MustDocker(t, env, pw, "login", reg.Host, "-u", name, "--password-stdin")
			}
			if code := webSignIn(t, p.URL, name, pw); code != http.StatusSeeOther && code != http.StatusFound {
				t.Errorf("%s: web sign-in with the old password: %d", name, code)
			}
			env, _ := dockerClientEnv(t, "")
			if out, err := d.Docker(env, pw, "login", reg.Host, "-u", name, "--password-stdin"); err != nil {
				t.Errorf("%s: docker login with the old password: %v\n%s", name, err, out)
			}
		}
		for name, u := range userList(t, p) {
			if u.PendingRehash {
				t.Errorf("%s: still the imported bcrypt hash after sign-in", name)
			}
		}
		var page apitypes.ActivityPage
		if code := p.apiJSON(t, http.MethodGet, "/api/v1/activities?limit=200", "alice", passwords["alice"], nil, &page); code != http.StatusOK {
			t.Fatalf("activities: %d", code)
		}
		rehashed := map[string]bool{}
		for _, a := range page.Activities {
			if a.Action == "user.password.rehash" && strings.Contains(a.Detail, "argon2id") {
				rehashed[a.Subject] = true
			}
		}
		if len(rehashed) != len(passwords) {
			t.Errorf("argon2id rehashes audited for %v, want all %d users", rehashed, len(passwords))
		}
	})

	phase(t, "a wrong password", func(t *testing.T) {
		env, _ := dockerClientEnv(t, "")
		if out, err := d.Docker(env, "not-carols", "login", reg.Host, "-u", "carol", "--password-stdin"); err == nil {
			t.Fatalf("docker login with a wrong password:\n%s", out)
		}
		throttled := false
		for i := 0; i < 10 && !throttled; i++ {
			throttled = registryTokenStatus(t, p, "carol", "not-carols", "") == http.StatusTooManyRequests
		}
		if !throttled {
			t.Fatal("10 wrong passwords for carol: never throttled")
		}
		if code := registryTokenStatus(t, p, "carol", passwords["carol"], ""); code != http.StatusTooManyRequests {
			t.Fatalf("carol's right password while throttled: %d, want 429", code)
		}
	})
}

// startRewrittenRegistry writes a registry config.yml on htpasswd auth,
// has `portus registry-config --from-registry-config --write` replace its
// auth: block, checks the other sections are unchanged and starts the
// registry with it.
func startRewrittenRegistry(t *testing.T, p *portusServer, exe, dir, htpasswdFile string) *registry {
	t.Helper()
	port := testutil.Port(t)
	r := &registry{Host: fmt.Sprintf("localhost:%d", port), log: &testutil.LockedBuffer{}}
	sections := []string{
		fmt.Sprintf("storage:\n  filesystem:\n    rootdirectory: \"%s\"   # the images\n  delete:\n    enabled: true\n", filepath.Join(dir, "storage")),
		fmt.Sprintf("http:\n  addr: %s\n  headers:\n    X-Content-Type-Options: [nosniff]\n", r.Host),
		"notifications:\n  endpoints:\n    - name: audit\n      url: http://127.0.0.1:9/events\n      timeout: 500ms\n      threshold: 5\n      backoff: 1s\n",
	}
	conf := filepath.Join(dir, "config.yml")
	original := "version: 0.1\nlog:\n  level: info\n" + sections[0] +
		"# the old way\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: " + htpasswdFile + "\n\n" + sections[1] + sections[2]
	writeTestFile(t, conf, original)
	p.portus(t, "", "registry-config", "--from-registry-config", conf, "--write")
	raw, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	for _, s := range sections {
		if !strings.Contains(got, s) {
			t.Fatalf("a section changed; want\n%s\nin\n%s", s, got)
		}
	}
	if bak, _ := os.ReadFile(conf + ".bak"); string(bak) != original {
		t.Fatalf("the backup is not the original:\n%s", bak)
	}
	if strings.Contains(got, "htpasswd") || !strings.Contains(got, "realm: "+p.URL+"/v2/token") {
		t.Fatalf("the auth: block was not replaced:\n%s", got)
	}
	proc, err := testutil.Start(exec.Command(exe, "serve", conf), r.log)
	if err != nil {
		t.Fatal(err)
	}
	r.proc = proc
	t.Cleanup(func() {
		proc.Kill()
		if t.Failed() {
			t.Logf("registry log:\n%s", r.log.String())
		}
	})
	err = proc.WaitReady(readyTimeout, func() bool {
		return strings.Contains(r.log.String(), fmt.Sprintf("listening on 127.0.0.1:%d", port)) &&
			testutil.Answers("http://"+r.Host+"/v2/", http.StatusUnauthorized)
	})
	if err != nil {
		t.Fatalf("the registry with the rewritten config.yml: %v\n%s", err, r.log.String())
	}
	return r
}

// runStdin runs a tool with stdin and returns its stdout.
func runStdin(t *testing.T, stdin, exe string, args ...string) string {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", exe, strings.Join(args, " "), err, errOut.String())
	}
	return string(out)
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// userList is `portus user list -o json` by name.
func userList(t *testing.T, p *portusServer) map[string]apitypes.User {
	t.Helper()
	var list []apitypes.User
	if err := json.Unmarshal([]byte(p.portus(t, "", "user", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]apitypes.User{}
	for _, u := range list {
		m[u.Name] = u
	}
	return m
}
