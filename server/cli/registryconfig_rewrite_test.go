package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A registry configuration as operators write them: comments, quoting
// and order that re-marshalling would lose.
const (
	confHead = `version: 0.1
# where the blobs live
storage:
  filesystem:
    rootdirectory: "/var/lib/docker-registry"   # keep quoted
  delete: {enabled: true}
`
	confAuth = `# basic auth until we have something better
auth:
  htpasswd:
    realm: basic-realm
    # generated with htpasswd -B
    path: /etc/docker/registry/htpasswd
`
	confTail = `
# the API
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
notifications:
  endpoints:
    - name: audit
      url: https://audit.example.com/events
      timeout: 500ms
`
)

func TestRegistryConfigFromRegistryConfig(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base := []string{"registry-config", "--data", data, "--url", "https://portus.example.com"}
	conf := writeFile(t, "config.yml", confHead+confAuth+confTail)
	if err := os.Chmod(conf, 0o640); err != nil {
		t.Fatal(err)
	}

	r := ok(t, "", append(base, "--from-registry-config", conf)...)
	if !strings.HasPrefix(r.stdout, confHead+"# Works with") || !strings.HasSuffix(r.stdout, confTail) ||
		strings.Contains(r.stdout, "htpasswd") || !strings.Contains(r.stdout, "\nauth:\n  token:\n    realm: https://portus.example.com/v2/token\n") {
		t.Fatalf("printed configuration:\n%s", r.stdout)
	}
	if raw, _ := os.ReadFile(conf); string(raw) != confHead+confAuth+confTail {
		t.Fatal("without --write the file changed")
	}

	ok(t, "", append(base, "--from-registry-config", conf, "--write")...)
	raw, _ := os.ReadFile(conf)
	bak, _ := os.ReadFile(conf + ".bak")
	if string(raw) != r.stdout || string(bak) != confHead+confAuth+confTail {
		t.Fatalf("written:\n%s\nbackup:\n%s", raw, bak)
	}
	if mode(t, conf) != 0o640 || mode(t, conf+".bak") != 0o640 {
		t.Errorf("modes %v, %v; want the original 0640", mode(t, conf), mode(t, conf+".bak"))
	}
	// Again on the rewritten file: Portus' block replaced by itself.
	if r2 := ok(t, "", append(base, "--from-registry-config", conf)...); r2.stdout != r.stdout {
		t.Errorf("a second rewrite differs:\n%s", r2.stdout)
	}
	// A second --write keeps the original's backup and backs up beside it.
	ok(t, "", append(base, "--from-registry-config", conf, "--write")...)
	bak, _ = os.ReadFile(conf + ".bak")
	bak1, _ := os.ReadFile(conf + ".bak.1")
	if string(bak) != confHead+confAuth+confTail || string(bak1) != r.stdout {
		t.Errorf("after a second --write: .bak holds\n%s\n.bak.1 holds\n%s", bak, bak1)
	}

	// No auth: at all: the block is appended.
	noAuth := writeFile(t, "noauth.yml", strings.TrimSuffix(confHead, "\n"))
	r = ok(t, "", append(base, "--from-registry-config", noAuth)...)
	if !strings.HasPrefix(r.stdout, confHead+"# Works with") {
		t.Errorf("appended to a file without auth:\n%s", r.stdout)
	}

	for name, content := range map[string]string{
		"two documents": confHead + "---\n" + confAuth,
		"flow style":    "{version: 0.1, auth: {}}\n",
		"not YAML":      "version: [0.1\n",
	} {
		bad := writeFile(t, "bad.yml", content)
		if r := portus(t, "", append(base, "--from-registry-config", bad, "--write")...); r.code == 0 || r.stderr == "" {
			t.Errorf("%s: exit %d\n%s", name, r.code, r.stderr)
		}
		if raw, _ := os.ReadFile(bad); string(raw) != content {
			t.Errorf("%s: the file changed", name)
		}
	}
	if r := portus(t, "", append(base, "--write")...); r.code == 0 || !strings.Contains(r.stderr, "--from-registry-config") {
		t.Errorf("--write alone: exit %d\n%s", r.code, r.stderr)
	}
}
