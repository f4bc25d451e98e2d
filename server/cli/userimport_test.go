package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func bcryptLine(t *testing.T, name, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return name + ":$2y$" + string(h[4:])
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUserImport imports an htpasswd file offline (dry run first) and a
// docker_auth file over the admin socket; the imported admin's old
// password then works for the API, and the route is not on the public
// listener.
func TestUserImport(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	htpasswd := writeFile(t, "htpasswd", "# the registry's users\n"+
		bcryptLine(t, "alice", "alice-old")+"\n"+
		"carol:$apr1$/2cRrjI3$mvPO0NxjmIK6856CulHiu0\n"+
		bcryptLine(t, "dave", "dave-old")+"\n")

	r := portus(t, "", "user", "import", "--data", data, "--htpasswd", htpasswd, "--admin", "alice", "--dry-run")
	if r.code != 1 || !strings.Contains(r.stdout, "would create") || !strings.Contains(r.stderr, "refused line(s) 3") ||
		!strings.Contains(r.stdout, "MD5") {
		t.Fatalf("dry run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := len(listUsers(t, data)); n != 0 {
		t.Fatalf("the dry run created %d users", n)
	}
	if r := portus(t, "", "user", "import", "--data", data, "--htpasswd", htpasswd, "--admin", "nobody"); r.code == 0 || !strings.Contains(r.stderr, "--admin nobody") {
		t.Fatalf("--admin of a name not in the file: exit %d\n%s", r.code, r.stderr)
	}
	if r := portus(t, "", "user", "import", "--data", data); r.code == 0 || !strings.Contains(r.stderr, "--htpasswd FILE or --docker-auth FILE") {
		t.Fatalf("no file: exit %d\n%s", r.code, r.stderr)
	}
	r = portus(t, "", "user", "import", "--data", data, "--htpasswd", htpasswd, "--admin", "alice")
	if r.code != 1 || strings.Count(r.stdout, "created") != 2 {
		t.Fatalf("offline import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	s := serve(t, data)
	dockerAuth := writeFile(t, "auth_config.yml", `server:
  addr: ":5001"
users:
  "erin":
    password: "`+strings.TrimPrefix(bcryptLine(t, "", "erin-old"), ":")+`"
  "alice":
    password: "`+strings.TrimPrefix(bcryptLine(t, "", "other"), ":")+`"
  "": {}
acl:
  - match: {account: "erin"}
    actions: ["*"]
  - match: {account: "/.+/", name: "${account}/*"}
    actions: ["*"]
  - match: {account: ""}
    actions: ["pull"]
`)
	r = portus(t, "", "user", "import", "--data", data, "--docker-auth", dockerAuth)
	for _, want := range []string{"erin", "created", "alice", "exists", "anonymous", `account="erin"`, "--admin erin", "not granted", "granted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker_auth import does not say %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 1 || !strings.Contains(r.stderr, "refused line(s) 8") {
		t.Errorf("the anonymous user is not reported refused: exit %d\n%s", r.code, r.stderr)
	}

	if code, _ := s.get(t, "/api/v1/users", "alice", "alice-old"); code != http.StatusOK {
		t.Fatalf("the imported admin's old password over the API: %d", code)
	}
	users := listUsers(t, data)
	if users["alice"].PendingRehash || !users["dave"].PendingRehash || !users["erin"].PendingRehash {
		t.Fatalf("password schemes after alice signed in: %+v", users)
	}
	if code, _ := s.get(t, "/api/v1/users", "erin", "wrong-password"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/admin/users/import", strings.NewReader(`{"users":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("alice", "alice-old")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// 405: the web UI's admin pages answer GET under /admin/users/; no
	// POST route of that path exists on the public listener.
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("the import route on the public listener: %d, want 404 or 405", resp.StatusCode)
	}
}
