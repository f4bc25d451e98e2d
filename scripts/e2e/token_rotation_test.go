package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// TestRegenerateInChromium: the profile's Regenerate button asks first,
// then shows the token's new secret once; with no grace the old secret is
// refused at once, and its use is flagged on the profile.
func TestRegenerateInChromium(t *testing.T) {
	exe := requireTool(t, "chromium")
	p := startPortus(t, "--rotation-grace", "0s")
	p.createUser(t, "alice", "alice-password", false)
	browser := startChromium(t, exe)
	shots := screenshotDir(t)
	alice := newTab(t, browser, p.URL)
	alice.signIn(t, "alice", "alice-password")
	old := alice.createToken(t, "ci")
	alice.open(t, "/profile")

	alice.submit(t, `a[aria-label="Regenerate token ci"]`, http.StatusOK)
	alice.wantBody(t, "Regenerate the token 'ci'?")
	alice.wantBody(t, "no time at all")
	alice.screenshot(t, shots, "regenerate-confirm.png")
	alice.submit(t, "#confirm", http.StatusOK)
	alice.wantBody(t, "Token 'ci' has a new secret.")
	fresh, err := chromedp.Run(alice.timeout(t), chromedp.Value(chromedp.CSS("#new-token")))
	if err != nil {
		t.Fatalf("reading the new secret: %v", err)
	}
	if !apptoken.Valid(fresh) || fresh == old {
		t.Fatalf("the page shows %q after regenerating, want a new token", apptoken.Redact(fresh))
	}
	alice.screenshot(t, shots, "regenerate-new-secret.png")
	alice.reload(t)
	if strings.Contains(alice.html(t), fresh) {
		t.Fatal("reloading shows the new secret again")
	}

	var list []apitypes.Token
	p.apiJSON(t, http.MethodGet, apitypes.TokensPath, "alice", "alice-password", nil, &list)
	if len(list) != 1 || list[0].Name != "ci" {
		t.Fatalf("after regenerating alice has %d tokens, want the one token ci", len(list))
	}
	if code := registryTokenStatus(t, p, "alice", fresh, "repository:alice/app:pull"); code != http.StatusOK {
		t.Errorf("/v2/token with the new secret = %d, want 200", code)
	}
	if code := registryTokenStatus(t, p, "alice", old, "repository:alice/app:pull"); code != http.StatusUnauthorized {
		t.Errorf("/v2/token with the old secret and no grace = %d, want 401", code)
	}
	alice.open(t, "/profile")
	alice.wantText(t, "#token-reuse", "a replaced secret of 'ci' was used from 127.0.0.1")
	if code := registryTokenStatus(t, p, "alice", fresh, "repository:alice/app:pull"); code != http.StatusOK {
		t.Errorf("the new secret after the reuse = %d, want 200 (a reuse never touches it)", code)
	}
}

// rotatingWorkstation is a workstation whose helper configuration sets
// rotate_after.
func rotatingWorkstation(t *testing.T, rotateAfter string) *workstation {
	t.Helper()
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	cfg := filepath.Join(w.home, "helper-config.json")
	if err := os.WriteFile(cfg, []byte(`{"rotate_after": "`+rotateAfter+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "PORTUS_HELPER_CONFIG="+cfg)
	return w
}

// helperGetSplit runs the helper's get and returns its secret and stderr
// apart (the protocol owns stdout).
func helperGetSplit(t *testing.T, w *workstation, server string) (secret, stderr string) {
	t.Helper()
	cmd := exec.Command(bin.helper, "get")
	cmd.Env = w.env
	cmd.Stdin = strings.NewReader(server)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("get %s: %v\n%s%s", server, err, testutil.RedactTokens(out.String()), testutil.RedactTokens(errOut.String()))
	}
	var cred struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &cred); err != nil || !apptoken.Valid(cred.Secret) {
		t.Fatalf("get %s returned %s (%v), want a token", server, testutil.RedactTokens(out.String()), err)
	}
	return cred.Secret, errOut.String()
}

// TestHelperRotatesOnGet: with rotate_after 1s, a get after that age gives
// docker login's token a new secret — the server lists the same token id,
// the keyring holds the new secret, and docker pull keeps working. With
// the server down, get answers with the stored token and warns once.
func TestHelperRotatesOnGet(t *testing.T) {
	d := startDockerd(t)
	// No grace: the pull after the rotation works only with the new secret.
	p := startPortus(t, "--rotation-grace", "0s")
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := rotatingWorkstation(t, "1s")
	ref := reg.Host + "/alice/rotated:v1"

	d.MustDocker(t, w.env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
	before := loginTokensOf(t, p, "alice-password")
	if len(before) != 1 {
		t.Fatalf("after login the server lists %d login tokens, want 1", len(before))
	}
	first, _ := helperGetSplit(t, w, reg.Host)
	d.BuildScratch(t, w.env, ref, "pushed before the rotation")
	d.MustDocker(t, w.env, "", "push", ref)

	time.Sleep(1100 * time.Millisecond)
	rotated, stderr := helperGetSplit(t, w, reg.Host)
	if rotated == first || stderr != "" {
		t.Fatalf("get after rotate_after: rotated %v, stderr %q", rotated != first, testutil.RedactTokens(stderr))
	}
	after := loginTokensOf(t, p, "alice-password")
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].Name != before[0].Name {
		t.Fatalf("after the rotation the server lists %+v, want the same token %s", after, before[0].ID)
	}
	var me []apitypes.Token
	if code := p.bearerJSON(t, http.MethodGet, apitypes.TokensPath, rotated, &me); code != http.StatusOK {
		t.Fatalf("the new secret at the API = %d, want 200", code)
	}
	if again, _ := helperGetSplit(t, w, reg.Host); again != rotated {
		t.Fatal("the keyring does not hold the new secret")
	}
	if code := p.bearerJSON(t, http.MethodGet, apitypes.TokensPath, first, nil); code != http.StatusUnauthorized {
		t.Fatalf("the replaced secret at the API = %d, want 401 (no grace)", code)
	}
	d.MustDocker(t, w.env, "", "image", "rm", ref)
	d.MustDocker(t, w.env, "", "pull", ref)

	time.Sleep(1100 * time.Millisecond)
	p.Stop(t)
	kept, stderr := helperGetSplit(t, w, reg.Host)
	if kept != rotated {
		t.Error("with the server down, get did not answer with the stored token")
	}
	if n := strings.Count(stderr, "warning:"); n != 1 || !strings.Contains(stderr, "could not be rotated") || strings.Contains(stderr, "ptk_") {
		t.Errorf("with the server down, stderr = %q; want exactly one warning, without the token", testutil.RedactTokens(stderr))
	}
}
