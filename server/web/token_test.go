package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

func TestTokenShownOnceAndNeverStored(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	created, token := b.createToken("ci", "pull")

	if !strings.HasPrefix(token, "ptk_") {
		t.Fatalf("the page shows %q, not an application token", token)
	}
	if created.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token page: Cache-Control %q, want no-store", created.Header.Get("Cache-Control"))
	}
	for _, want := range []string{"Token 'ci' was created successfully.", "will not be shown again", "not possible to recover"} {
		if !strings.Contains(created.text(), want) {
			t.Errorf("token page lacks %q", want)
		}
	}
	if !strings.Contains(created.Body, `readonly`) || !strings.Contains(created.Body, `data-copy="new-token"`) {
		t.Error("the token is not in a read-only field with a copy button")
	}
	for _, h := range created.Header["Set-Cookie"] {
		if strings.Contains(h, token) {
			t.Errorf("the token is in a cookie: %s", h)
		}
	}
	if code := registryStatus(t, s.URL, "alice", token); code != http.StatusOK {
		t.Errorf("/v2/token with the new token = %d, want 200", code)
	}

	// The profile never shows it again: not on a reload of the URL the
	// redirect named, which says it was just created, nor elsewhere.
	reload := b.get(created.URL)
	if strings.Contains(reload.Body, token) || strings.Contains(reload.Body, "ptk_") {
		t.Error("reloading the page after creation shows the token again")
	}
	if want := "Token 'ci' was just created. Its value was shown once and cannot be shown again."; !strings.Contains(reload.text(), want) {
		t.Errorf("the reload does not say %q:\n%s", want, reload)
	}
	if p := b.get("/profile"); strings.Contains(p.Body, token) || strings.Contains(p.Body, "ptk_") || strings.Contains(p.text(), "just created") {
		t.Error("the profile shows the token (or its notice) again")
	}
	again := b.submit("/profile", "/profile/tokens", url.Values{"name": {"ci"}, "scope": {"pull"}})
	if again.Status != http.StatusConflict || strings.Contains(again.Body, "ptk_") || !strings.Contains(again.text(), "already have a token with this name") {
		t.Errorf("posting the name again = %s", again)
	}
	secret := b.cookie("portus_session").Value
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := s.DBBytes()
	if bytes.Contains(db, []byte(token)) || bytes.Contains(db, []byte(token[4:])) {
		t.Error("the plaintext token is in the database file")
	}
	if bytes.Contains(db, []byte(secret)) {
		t.Error("the session cookie value is in the database file")
	}
	sum := sha256.Sum256([]byte(secret))
	if !bytes.Contains(db, []byte(base64.StdEncoding.EncodeToString(sum[:]))) {
		t.Error("the database does not hold the session as SHA-256 of the cookie (the scan above would prove nothing)")
	}
}

func TestTokenFormValidationAndExpiry(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	for _, c := range []struct {
		values url.Values
		status int
		want   string
	}{
		{url.Values{"name": {"  "}}, http.StatusBadRequest, "Name must be 1 to 64 printable characters."},
		{url.Values{"name": {"x"}, "scope": {"admin"}}, http.StatusBadRequest, `Scope must be "pull", "push" or "delete".`},
		{url.Values{"name": {"x"}, "expires": {"0"}}, http.StatusBadRequest, "Expiry must be between 1 and 3650 days."},
		{url.Values{"name": {"x"}, "expires": {"3651"}}, http.StatusBadRequest, "Expiry must be between 1 and 3650 days."},
		{url.Values{"name": {"x"}, "expires": {"9999-12-31"}}, http.StatusBadRequest, "Expiry must be within 3650 days."},
		{url.Values{"name": {"x"}, "expires": {"2001-01-01"}}, http.StatusBadRequest, "Expiry must be a date in the future."},
		{url.Values{"name": {"x"}, "expires": {"soon"}}, http.StatusBadRequest, "Expiry must be a number of days or a date"},
	} {
		p := b.submit("/profile", "/profile/tokens", c.values)
		if p.Status != c.status || !strings.Contains(p.text(), c.want) {
			t.Errorf("create %v = %d, want %d with %q:\n%s", c.values, p.Status, c.status, c.want, p)
		}
	}
	b.submit("/profile", "/profile/tokens", url.Values{"name": {"month"}, "expires": {"30"}})
	date := time.Now().UTC().AddDate(1, 0, 0).Format("2006-01-02")
	b.submit("/profile", "/profile/tokens", url.Values{"name": {"dated"}, "expires": {date}})
	list, err := s.Core.Accounts.Tokens("alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("tokens = %+v, %v", list, err)
	}
	for _, tk := range list {
		if tk.ExpiresAt == nil || tk.Scope != "push" || tk.CreatedVia != apitypes.ViaWeb {
			t.Errorf("token %+v: want an expiry, scope push (the default) and created via web", tk)
		}
	}
	byName := map[string]apitypes.Token{}
	for _, tk := range list {
		byName[tk.Name] = tk
	}
	if got := byName["month"].ExpiresAt.Sub(byName["month"].CreatedAt); got < 29*24*time.Hour || got > 31*24*time.Hour {
		t.Errorf("30-day token expires after %s", got)
	}
	if got := byName["dated"].ExpiresAt.UTC().Format("2006-01-02"); got != date {
		t.Errorf("dated token expires on %s, want %s", got, date)
	}
}

func TestTokenLimitReplacesForm(t *testing.T) {
	s := start(t, testserver.Options{MaxTokens: 2})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	b.createToken("one", "push")
	p, _ := b.createToken("two", "push")
	const limit = "You have 2 application tokens, the most allowed. Remove one to create another."
	for _, p := range []*page{p, b.get("/profile")} {
		if !strings.Contains(p.text(), limit) || strings.Contains(p.Body, `id="create-token"`) {
			t.Errorf("at the limit, the profile does not replace the form by the limit message:\n%s", p)
		}
	}
	// Posting anyway (an old tab) explains the limit.
	form := url.Values{"csrf_token": {p.csrf(t)}, "name": {"three"}}
	if p := b.do(http.MethodPost, "/profile/tokens", form); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.text(), limit) {
		t.Errorf("creating a third token = %s", p)
	}
}

func TestRemoveTokenWithConfirmation(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	s.AddUser("bob", "bob-password", false)
	bobs := s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "bobs"})
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	_, token := b.createToken("ci", "push")
	list, _ := s.Core.Accounts.Tokens("alice")
	id := list[0].ID

	confirm := b.get("/profile/tokens/" + id + "/remove")
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.text(), "Remove the token 'ci'?") ||
		!strings.Contains(confirm.Body, `action="/profile/tokens/`+id+`/remove"`) {
		t.Fatalf("confirmation page = %s", confirm)
	}
	if registryStatus(t, s.URL, "alice", token) != http.StatusOK {
		t.Fatal("showing the confirmation removed the token")
	}
	p := b.do(http.MethodPost, "/profile/tokens/"+id+"/remove", url.Values{"csrf_token": {confirm.csrf(t)}})
	if p.Status != http.StatusSeeOther || p.Location() != "/profile" {
		t.Fatalf("remove = %s", p)
	}
	profile := b.follow(p)
	if !strings.Contains(profile.text(), "Token 'ci' was removed successfully.") || strings.Contains(profile.Body, `data-token="ci"`) {
		t.Errorf("profile after removal:\n%s", profile)
	}
	if code := registryStatus(t, s.URL, "alice", token); code != http.StatusUnauthorized {
		t.Errorf("/v2/token with the removed token = %d, want 401", code)
	}
	// Another user's token id is not found, and stays.
	if p := b.get("/profile/tokens/" + bobs.ID + "/remove"); p.Status != http.StatusNotFound {
		t.Errorf("confirming the removal of bob's token = %s", p)
	}
	p = b.do(http.MethodPost, "/profile/tokens/"+bobs.ID+"/remove", url.Values{"csrf_token": {confirm.csrf(t)}})
	if p.Status != http.StatusNotFound || registryStatus(t, s.URL, "bob", bobs.Token) != http.StatusOK {
		t.Errorf("alice removing bob's token = %s", p)
	}
}
