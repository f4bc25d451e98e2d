package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// A token reported as leaked shows on its owner's profile with the source.
func TestProfileShowsLeakNotice(t *testing.T) {
	s := start(t, testserver.Options{})
	b := newBrowser(t, s.URL)
	b.signUp("alice", "alice-password-1")
	_, token := b.createToken("ci", "pull")
	body, _ := json.Marshal(apitypes.RevokeLeakedRequest{Tokens: []string{token}, Source: "https://paste.example.org/p/42"})
	resp, err := http.Post(s.URL+apitypes.RevokeLeakedPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("report answered %d", resp.StatusCode)
	}
	p := b.get("/profile")
	if !strings.Contains(p.Body, `id="leaked-notice"`) || !strings.Contains(p.text(), "Your token 'ci' was reported as leaked, found at https://paste.example.org/p/42") {
		t.Fatalf("profile has no leak notice naming the source:\n%s", p.text())
	}
	if registryStatus(t, s.URL, "alice", token) != http.StatusUnauthorized {
		t.Fatal("the reported token still works at /v2/token")
	}
}
