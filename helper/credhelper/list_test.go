package credhelper_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/credentials"
)

func TestListThroughProtocol(t *testing.T) {
	e := newEnv(t)
	var out bytes.Buffer
	if err := credentials.HandleCommand(e.helper(), credentials.ActionList, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{}\n" {
		t.Fatalf("empty list = %q, want {}", out.String())
	}
	e.mustStore(e.registry, "alice", password)
	e.mustStore("https://index.docker.io/v1/", "<token>", "hub-identity-token")
	e.mustStore("docker.io", "<token>", "hub-identity-token") // the same server
	out.Reset()
	if err := credentials.HandleCommand(e.helper(), credentials.ActionList, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{e.registry: "alice", "https://index.docker.io/v1/": "<token>"}
	if !maps.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	// Every listed key works with get.
	for server := range got {
		e.mustGet(server)
	}
}
