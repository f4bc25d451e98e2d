package credhelper_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/credhelper"
	"github.com/portusproject/portus/shared/apptoken"
	"github.com/zalando/go-keyring"
)

func TestLockedKeyring(t *testing.T) {
	e := newEnv(t)
	keyring.MockInitWithError(errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"))
	check := func(action string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "the keyring is locked") || !strings.Contains(err.Error(), "unlock") {
			t.Errorf("%s with a locked keyring: %v", action, err)
		}
	}
	check("store", e.store(e.registry, "alice", password))
	_, _, err := e.get(e.registry)
	check("get", err)
	check("erase", e.helper().Delete(e.registry))
	_, err = e.helper().List()
	check("list", err)
	if e.apiRequests() != 0 || len(e.portus.Tokens("alice")) != 0 {
		t.Fatal("store asked the server for a token it could not keep")
	}
}

func TestDebugHasNoSecrets(t *testing.T) {
	e := newEnv(t)
	e.debug = true
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry)
	e.mustStore(e.registry, "alice", token)
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	msg := e.stderr.String()
	for _, want := range []string{"level=DEBUG", "discovered", apptoken.Redact(token), "revoked"} {
		if !strings.Contains(msg, want) {
			t.Errorf("debug output lacks %q:\n%s", want, msg)
		}
	}
	e.noSecrets()
}

func TestIdentify(t *testing.T) {
	credhelper.Identify("v1.2.3")
	var out bytes.Buffer
	if err := credentials.PrintVersion(&out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "docker-credential-portus (github.com/portusproject/portus) v1.2.3\n" {
		t.Fatalf("version = %q", got)
	}
	credhelper.Identify("")
	if credentials.Version != "dev" {
		t.Fatalf("default version = %q, want dev (a test binary has no module version)", credentials.Version)
	}
}
