package credhelper_test

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/zalando/go-keyring"
)

func TestGetNotFound(t *testing.T) {
	e := newEnv(t)
	e.notFound(e.registry)
	e.notFound("https://index.docker.io/v1/")
	e.notFound("not a registry address")
	// Through the protocol: exactly docker's text.
	var out bytes.Buffer
	err := credentials.HandleCommand(e.helper(), credentials.ActionGet, strings.NewReader(e.registry+"\n"), &out)
	if err == nil || err.Error() != "credentials not found in native keychain" || out.Len() != 0 {
		t.Fatalf("get via HandleCommand: err %v, out %q", err, out.String())
	}
}

func TestNoSecretService(t *testing.T) {
	e := newEnv(t)
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	_, _, err := e.get(e.registry)
	if !errors.Is(err, keychain.ErrNoSecretService) || !strings.Contains(err.Error(), "gnome-keyring") {
		t.Fatalf("get without a Secret Service: %v", err)
	}
}

func TestBadConfigDoesNotBreakGet(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry)
	e.config(map[string]any{"strikt": true})

	h := e.helper()
	user, secret, err := h.Get(e.registry)
	if err != nil || user != "alice" || secret != token {
		t.Fatalf("get with a bad configuration file: %q, %v", user, err)
	}
	if m, err := h.List(); err != nil || !maps.Equal(m, map[string]string{e.registry: "alice"}) {
		t.Fatalf("list with a bad configuration file: %v, %v", m, err)
	}
	msg := e.stderr.String()
	for _, want := range []string{"warning", e.cfgPath, "strikt", "default settings"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, "warning") != 1 {
		t.Errorf("warned %d times in one process: %q", strings.Count(msg, "warning"), msg)
	}
	// Through the protocol, as docker pull calls it: credentials, no error.
	var out bytes.Buffer
	if err := credentials.HandleCommand(e.helper(), credentials.ActionGet, strings.NewReader(e.registry+"\n"), &out); err != nil ||
		!strings.Contains(out.String(), `"Username":"alice"`) {
		t.Fatalf("get via HandleCommand: %v, %q", err, out.String())
	}
	// store and erase still refuse, naming the file.
	for action, err := range map[string]error{
		"store": e.store(e.registry, "alice", password),
		"erase": e.helper().Delete(e.registry),
	} {
		if err == nil || !strings.Contains(err.Error(), e.cfgPath) || !strings.Contains(err.Error(), "fix the file") {
			t.Errorf("%s with a bad configuration file: %v", action, err)
		}
	}
	if _, s := e.mustGet(e.registry); s != token {
		t.Fatal("the stored token changed")
	}
}
