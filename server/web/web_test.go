package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/web"
	"github.com/portusproject/portus/shared/apitypes"
)

func TestSignUpFirstUserBecomesAdmin(t *testing.T) {
	s := start(t, testserver.Options{})
	alice := newBrowser(t, s.URL)
	if p := alice.get("/signup"); !strings.Contains(p.text(), "becomes the administrator") {
		t.Fatalf("the sign-up page of an empty server does not say the first account becomes administrator:\n%s", p)
	}
	profile := alice.signUp("alice", "alice-password")
	if !strings.Contains(profile.text(), "you are the administrator") || !strings.Contains(profile.Body, `href="/admin/users"`) {
		t.Errorf("alice's first page does not say she is the administrator:\n%s", profile)
	}
	if u, _ := s.Core.Accounts.UserLookup("alice"); !u.Admin {
		t.Error("the first account is not an administrator")
	}

	bob := newBrowser(t, s.URL)
	if p := bob.get("/signup"); strings.Contains(p.text(), "becomes the administrator") {
		t.Error("the sign-up page still promises administrator rights after the first account")
	}
	profile = bob.signUp("bob", "bob-password")
	if strings.Contains(profile.Body, `href="/admin/users"`) || !strings.Contains(profile.text(), "Welcome, bob. Your account was created.") {
		t.Errorf("bob's profile:\n%s", profile)
	}
	if u, _ := s.Core.Accounts.UserLookup("bob"); u.Admin {
		t.Error("the second account is an administrator")
	}
	// A taken name and differing passwords are explained.
	carol := newBrowser(t, s.URL)
	p := carol.submit("/signup", "/signup", url.Values{"username": {"bob"}, "password": {"carol-password"}, "password_confirmation": {"carol-password"}})
	if p.Status != http.StatusConflict || !strings.Contains(p.text(), "already exists. Choose another name.") {
		t.Errorf("sign-up with a taken name = %s", p)
	}
	p = carol.submit("/signup", "/signup", url.Values{"username": {"carol"}, "password": {"carol-password"}, "password_confirmation": {"carol-passwort"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "The two passwords differ") {
		t.Errorf("sign-up with differing passwords = %s", p)
	}
}

func TestSignUpTurnedOff(t *testing.T) {
	base := startWith(t, func(c *config.Config) { c.Signup = false })
	b := newBrowser(t, base)
	p := b.get("/signup")
	if p.Status != http.StatusForbidden || !strings.Contains(p.text(), "Sign-up is turned off") {
		t.Fatalf("GET /signup with sign-up off = %s", p)
	}
	if strings.Contains(b.get("/signin").Body, `href="/signup"`) {
		t.Error("the sign-in page links to the closed sign-up page")
	}
	form := b.get("/signin")
	p = b.do(http.MethodPost, "/signup", url.Values{"csrf_token": {form.csrf(t)}, "username": {"mallory"}, "password": {"mallory-password"}, "password_confirmation": {"mallory-password"}})
	if p.Status != http.StatusForbidden {
		t.Fatalf("POST /signup with sign-up off = %s", p)
	}
	if p := newBrowser(t, base).submit("/signin", "/signin", url.Values{"username": {"mallory"}, "password": {"mallory-password"}}); p.Status != http.StatusUnauthorized {
		t.Errorf("an account was created although sign-up is off: %s", p)
	}
}

func TestCookieFlags(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	form := b.get("/signin")
	checkCookie(t, form.Header, "portus_csrf", false)
	p := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign-in = %s", p)
	}
	ck := checkCookie(t, p.Header, "portus_session", false)
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(raw) != 32 {
		t.Errorf("session cookie %q is not 32 random bytes in base64url", ck.Value)
	}
	if ck.MaxAge != int((7 * 24 * time.Hour).Seconds()) {
		t.Errorf("session cookie Max-Age = %d, want the 7-day session limit", ck.MaxAge)
	}

	// Served as https (by URL or by TLS): Secure.
	for name, change := range map[string]func(*config.Config){
		"https URL": func(c *config.Config) { c.URL = "https://portus.example.com" },
		// The files are only read by Serve, which this test does not run.
		"TLS served": func(c *config.Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" },
	} {
		t.Run(name, func(t *testing.T) {
			base := startWith(t, change)
			b := newBrowser(t, base)
			form := b.get("/signup")
			checkCookie(t, form.Header, "portus_csrf", true)
			p := b.do(http.MethodPost, "/signup", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}, "password_confirmation": {"alice-password"}})
			if p.Status != http.StatusSeeOther {
				t.Fatalf("sign-up = %s", p)
			}
			checkCookie(t, p.Header, "portus_session", true)
		})
	}
}

// checkCookie finds a Set-Cookie and checks the flags every Portus cookie
// has.
func checkCookie(t *testing.T, h http.Header, name string, secure bool) *http.Cookie {
	t.Helper()
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name != name {
			continue
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Lax, /, Secure=%v",
				name, ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, secure)
		}
		return ck
	}
	t.Fatalf("no Set-Cookie %s in %v", name, h["Set-Cookie"])
	return nil
}

func TestSecurityHeaders(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	b := newBrowser(t, s.URL)
	pages := map[string]*page{"/signin": b.get("/signin")}
	b.signIn("alice", "alice-password")
	for _, path := range []string{"/profile", "/activity", "/admin/users", "/admin/users/alice"} {
		pages[path] = b.get(path)
	}
	pages["token created"], _ = b.createToken("ci", "push")
	for name, p := range pages {
		if p.Status != http.StatusOK {
			t.Errorf("%s: %s", name, p)
			continue
		}
		for header, want := range map[string]string{
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := p.Header.Get(header); got != want {
				t.Errorf("%s: %s = %q, want %q", name, header, got, want)
			}
		}
		csp := p.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", name, csp, want)
			}
		}
		if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, "//cdn") {
			t.Errorf("%s has an inline script or style, or an external resource", name)
		}
	}
	for _, f := range []string{"/static/portus.css", "/static/portus.js"} {
		p := b.get(f)
		if p.Status != http.StatusOK || len(p.Body) < 100 {
			t.Errorf("GET %s = %d, %d bytes", f, p.Status, len(p.Body))
		}
	}
}

func TestTokenShownOnceAndNeverStored(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	created, token := b.createToken("ci", "pull")

	if !strings.HasPrefix(token, "ptk_") {
		t.Fatalf("the page shows %q, not an application token", token)
	}
	if created.Header.Get("Cache-Control") != "no-store" || created.Location() != "" {
		t.Errorf("token page: Cache-Control %q, Location %q; want no-store and no redirect",
			created.Header.Get("Cache-Control"), created.Location())
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

	// The profile never shows it again; posting the form again (a reload)
	// fails on the name.
	if p := b.get("/profile"); strings.Contains(p.Body, token) || strings.Contains(p.Body, "ptk_") {
		t.Error("the profile shows the token again")
	}
	again := b.submit("/profile", "/profile/tokens", url.Values{"name": {"ci"}, "scope": {"pull"}})
	if again.Status != http.StatusConflict || strings.Contains(again.Body, "ptk_") || !strings.Contains(again.text(), "already have a token with this name") {
		t.Errorf("re-posting the form = %s", again)
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

func TestSignInRefusesApplicationToken(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	tok := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "laptop"})
	b := newBrowser(t, s.URL)
	wrong := b.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {"wrong-password"}})
	s.CoolDown()
	p := b.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {tok.Token}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.text(), "Invalid username or password.") {
		t.Fatalf("sign-in with a token as the password = %s", p)
	}
	if wrong.text() != p.text() {
		// The same page, token or wrong password (the form keeps the name).
		t.Errorf("a token gets another answer than a wrong password:\n%s\n---\n%s", wrong.text(), p.text())
	}
	if b.cookie("portus_session") != nil || strings.Contains(p.Body, tok.Token) {
		t.Error("the refused sign-in set a session or echoed the token")
	}
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("profile after a refused sign-in = %s", p)
	}
}

func TestOnlyTheSessionCookieOpensPages(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	tok := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "laptop"})
	b := newBrowser(t, s.URL)
	for name, o := range map[string]testserver.Opt{
		"Basic password": testserver.Basic("alice", "alice-password"),
		"Basic token":    testserver.Basic("alice", tok.Token),
		"Portus-Auth":    testserver.PortusAuth("alice", tok.Token),
		"Bearer":         func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.Token) },
		"session in a header": func(r *http.Request) {
			r.Header.Set("X-Portus-Session", tok.Token)
		},
	} {
		for _, path := range []string{"/profile", "/admin/users", "/profile?token=" + tok.Token, "/profile?portus_session=" + tok.Token} {
			p := b.get(path, o)
			if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location(), "/signin") {
				t.Errorf("%s on %s = %d (Location %q), want a redirect to /signin", name, path, p.Status, p.Location())
			}
			if ck := b.cookie("portus_session"); ck != nil {
				t.Fatalf("%s on %s created a web session", name, path)
			}
		}
	}
	// A token in the cookie is not a session either.
	b.setCookie("portus_session", tok.Token)
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("a token as the session cookie = %s", p)
	}
}

func TestSessionEndsWhenUserDisabled(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	s.AddUser("bob", "bob-password", false)
	admin := newBrowser(t, s.URL)
	admin.signIn("alice", "alice-password")
	bob := newBrowser(t, s.URL)
	bob.signIn("bob", "bob-password")
	_, bobToken := bob.createToken("laptop", "push")
	if p := bob.get("/profile"); p.Status != http.StatusOK {
		t.Fatalf("bob's profile = %s", p)
	}

	p := admin.submit("/admin/users", "/admin/users/bob/disable", nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("disable = %s", p)
	}
	if users := admin.follow(p); !strings.Contains(users.text(), "User 'bob' was disabled.") {
		t.Errorf("no flash after disabling:\n%s", users)
	}
	if p := bob.get("/profile"); p.Status != http.StatusSeeOther || p.Location() != "/signin" {
		t.Errorf("bob's profile after he was disabled = %s", p)
	}
	if code := registryStatus(t, s.URL, "bob", bobToken); code != http.StatusUnauthorized {
		t.Errorf("bob's token after he was disabled = %d", code)
	}
	if p := bob.submit("/signin", "/signin", url.Values{"username": {"bob"}, "password": {"bob-password"}}); p.Status != http.StatusUnauthorized {
		t.Errorf("a disabled user signed in: %s", p)
	}
	// Enabling brings the tokens back, not the session.
	admin.submit("/admin/users", "/admin/users/bob/enable", nil)
	if code := registryStatus(t, s.URL, "bob", bobToken); code != http.StatusOK {
		t.Errorf("bob's token after enabling = %d", code)
	}
	if p := bob.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("bob's old session after enabling = %s", p)
	}
}

func TestSessionTimeoutsSignOutAndRotation(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	old := newBrowser(t, s.URL)
	old.signIn("alice", "alice-password")
	first := old.cookie("portus_session").Value

	// A browser that carries a session cookie (say, one planted by an
	// attacker) and signs in gets a new session; the old one ends.
	b := newBrowser(t, s.URL)
	form := b.get("/signin")
	b.setCookie("portus_session", first)
	p := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign-in = %s", p)
	}
	if second := b.cookie("portus_session").Value; second == first {
		t.Fatal("signing in kept the session id the browser had")
	}
	if p := old.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("the session from before the sign-in still works: %s", p)
	}

	// Idle: 11 h is fine, 12 h more is not.
	s.Clock.Advance(11 * time.Hour)
	if p := b.get("/profile"); p.Status != http.StatusOK {
		t.Fatalf("profile after 11 idle hours = %s", p)
	}
	s.Clock.Advance(12 * time.Hour)
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Fatalf("profile after 12 idle hours = %s", p)
	}

	// Sign-out deletes the session on the server: the old cookie, replayed,
	// opens nothing.
	b.signIn("alice", "alice-password")
	secret := b.cookie("portus_session").Value
	p = b.submit("/profile", "/signout", nil)
	if p.Status != http.StatusSeeOther || p.Location() != "/signin" || b.cookie("portus_session") != nil {
		t.Fatalf("sign-out = %s, cookie %v", p, b.cookie("portus_session"))
	}
	if !strings.Contains(b.follow(p).text(), "You have signed out.") {
		t.Error("no flash after signing out")
	}
	replay := newBrowser(t, s.URL)
	replay.setCookie("portus_session", secret)
	if p := replay.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("a signed-out session cookie still works: %s", p)
	}

	// Absolute: an active session ends after 7 days.
	b.signIn("alice", "alice-password")
	for range 15 { // 165 h, never 12 h idle
		s.Clock.Advance(11 * time.Hour)
		if p := b.get("/profile"); p.Status != http.StatusOK {
			t.Fatalf("an active session ended early: %s", p)
		}
	}
	s.Clock.Advance(11 * time.Hour) // 176 h: active, but past 7 days
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("an active session outlived 7 days: %s", p)
	}
}

func TestSignInThrottleIsShared(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	// Three wrong passwords over the API …
	for range 3 {
		s.Do(http.MethodGet, apitypes.TokensPath, nil, testserver.Basic("alice", "wrong-password"))
	}
	// … and the web sign-in must wait.
	b := newBrowser(t, s.URL)
	p := b.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" ||
		!strings.Contains(p.text(), "Too many failed sign-in attempts. Wait 1 second, then try again.") {
		t.Fatalf("sign-in after three failures = %s (Retry-After %q)", p, p.Header.Get("Retry-After"))
	}
	s.CoolDown()
	b.signIn("alice", "alice-password")
}

func TestChangePasswordPage(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	other := newBrowser(t, s.URL)
	other.signIn("alice", "alice-password")
	_, token := b.createToken("laptop", "push")

	p := b.submit("/profile", "/profile/password", url.Values{"current_password": {"nope-nope"}, "new_password": {"new-password"}, "new_password_confirmation": {"new-password"}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.text(), "Your current password is not correct") {
		t.Errorf("wrong current password = %s", p)
	}
	s.CoolDown()
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password"}, "new_password_confirmation": {"new-passwort"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "The two new passwords differ") {
		t.Errorf("differing new passwords = %s", p)
	}
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password"}, "new_password_confirmation": {"new-password"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("change password = %s", p)
	}
	if profile := b.follow(p); profile.Status != http.StatusOK || !strings.Contains(profile.text(), "Your password was changed.") {
		t.Errorf("after changing the password this browser is not signed in with a flash:\n%s", profile)
	}
	if p := other.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("another browser stayed signed in after the password change: %s", p)
	}
	if registryStatus(t, s.URL, "alice", token) != http.StatusOK {
		t.Error("changing the password without ticking the box revoked a token")
	}
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"new-password"}, "new_password": {"newer-password"}, "new_password_confirmation": {"newer-password"}, "revoke_tokens": {"1"}})
	if !strings.Contains(b.follow(p).text(), "All your application tokens were revoked (1).") {
		t.Error("no flash about revoked tokens")
	}
	if registryStatus(t, s.URL, "alice", token) != http.StatusUnauthorized {
		t.Error("the box was ticked but the token still works")
	}
}

func TestAdminPages(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("bob", "bob-password", false)
	bobToken := s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "ci"})
	s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "laptop"})

	bob := newBrowser(t, s.URL)
	bob.signIn("bob", "bob-password")
	for _, path := range []string{"/admin/users", "/admin/users/bob"} {
		if p := bob.get(path); p.Status != http.StatusForbidden || !strings.Contains(p.text(), "Only administrators") {
			t.Errorf("a user on %s = %s", path, p)
		}
	}
	if p := bob.submit("/profile", "/admin/users/bob/grant-admin", nil); p.Status != http.StatusForbidden {
		t.Errorf("a user making himself admin = %s", p)
	}

	root := newBrowser(t, s.URL)
	root.signIn("root", "root-password")
	p := root.submit("/admin/users", "/admin/users", url.Values{"username": {"carol"}, "password": {"carol-password"}})
	if users := root.follow(p); !strings.Contains(users.text(), "User 'carol' was created.") || !strings.Contains(users.Body, `data-user="carol"`) {
		t.Errorf("after creating carol:\n%s", users)
	}
	p = root.submit("/admin/users", "/admin/users", url.Values{"username": {"Bad Name"}, "password": {"carol-password"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "Name must be 2 to 64 lowercase letters") {
		t.Errorf("creating a user with a bad name = %s", p)
	}
	p = root.submit("/admin/users", "/admin/users/carol/grant-admin", nil)
	if !strings.Contains(root.follow(p).text(), "User 'carol' is now an administrator.") {
		t.Error("no flash after making carol admin")
	}
	if u, _ := s.Core.Accounts.UserLookup("carol"); !u.Admin {
		t.Error("carol is not an administrator")
	}
	for _, action := range []string{"disable", "revoke-admin"} {
		p = root.submit("/admin/users", "/admin/users/root/"+action, nil)
		if !strings.Contains(root.follow(p).text(), "You cannot") {
			t.Errorf("%s on oneself was not refused", action)
		}
	}
	if u, _ := s.Core.Accounts.UserLookup("root"); !u.Admin || u.Disabled {
		t.Error("root locked themselves out")
	}
	if p := root.get("/admin/users/nobody"); p.Status != http.StatusNotFound {
		t.Errorf("unknown user page = %s", p)
	}

	// A user's tokens: revoke one, then all.
	page := root.get("/admin/users/bob")
	if !strings.Contains(page.Body, `data-token="ci"`) || !strings.Contains(page.Body, `data-token="laptop"`) {
		t.Fatalf("bob's page does not list his tokens:\n%s", page)
	}
	if !strings.Contains(page.Body, `href="/admin/users/bob/tokens/`+bobToken.ID+`/revoke" aria-label="Revoke token ci">Revoke</a>`) {
		t.Errorf("bob's page has no link to revoke his token ci:\n%s", page)
	}
	p = root.submit("/admin/users/bob/tokens/"+bobToken.ID+"/revoke", "/admin/users/bob/tokens/"+bobToken.ID+"/revoke", nil)
	if !strings.Contains(root.follow(p).text(), "Token 'ci' of bob was revoked.") {
		t.Error("no flash after revoking bob's token")
	}
	if registryStatus(t, s.URL, "bob", bobToken.Token) != http.StatusUnauthorized {
		t.Error("bob's revoked token still works")
	}
	p = root.submit("/admin/users/bob/revoke-all", "/admin/users/bob/revoke-all", nil)
	if !strings.Contains(root.follow(p).text(), "All tokens of bob were revoked (1).") {
		t.Error("no flash after revoking all of bob's tokens")
	}
	if list, _ := s.Core.Accounts.Tokens("bob"); len(list) != 0 {
		t.Errorf("bob still has %d tokens", len(list))
	}
}

func TestInjectionIsEscaped(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	const evil = `<script>alert(1)</script>"><img src=x onerror=alert(2)>'`
	created, _ := b.createToken(evil, "push")
	for name, p := range map[string]*page{
		"created": created, "profile": b.get("/profile"), "activity": b.get("/activity"),
		"admin user": b.get("/admin/users/alice"),
	} {
		if strings.Contains(p.Body, "<script>alert") || strings.Contains(p.Body, "<img src=x") {
			t.Errorf("%s page has the token name unescaped", name)
		}
		if !strings.Contains(p.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s page does not show the token name escaped", name)
		}
	}
	// A username that breaks the rules is echoed in the form, escaped.
	anon := newBrowser(t, s.URL)
	p := anon.submit("/signin", "/signin", url.Values{"username": {evil}, "password": {"whatever-password"}})
	if strings.Contains(p.Body, "<script>alert") || !strings.Contains(p.Body, "&lt;script&gt;") {
		t.Errorf("the sign-in form echoes the username unescaped:\n%s", p)
	}
	// And a flash with a user-chosen name comes back escaped.
	p = b.get("/profile")
	id := regexpFind(t, p.Body, `href="/profile/tokens/([0-9a-f]+)/remove"`)
	p = b.do(http.MethodPost, "/profile/tokens/"+id+"/remove", url.Values{"csrf_token": {p.csrf(t)}})
	if f := b.follow(p); strings.Contains(f.Body, "<script>alert") || !strings.Contains(f.text(), "was removed successfully") {
		t.Errorf("the removal flash is unescaped or missing:\n%s", f)
	}
}

func TestBrokenTemplateFailsStart(t *testing.T) {
	good := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
		"templates/error.html":  {Data: []byte(`{{define "content"}}{{.Data.Message}}{{end}}`)},
		"templates/signin.html": {Data: []byte(`{{define "content"}}sign in{{end}}`)},
	}
	if _, err := web.ParseTemplates(good); err != nil {
		t.Fatalf("good templates: %v", err)
	}
	for name, data := range map[string]string{
		"unclosed action":  `{{define "content"}}{{.Data.Message{{end}}`,
		"unknown function": `{{define "content"}}{{nosuchfunc .}}{{end}}`,
		"no content":       `<p>no content template</p>`,
	} {
		broken := fstest.MapFS{}
		for k, v := range good {
			broken[k] = v
		}
		broken["templates/profile.html"] = &fstest.MapFile{Data: []byte(data)}
		if _, err := web.ParseTemplates(broken); err == nil {
			t.Errorf("%s: ParseTemplates accepted a broken template", name)
		}
	}
}
