package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebUIInChromiumFindings walks through what a newcomer's walk-through
// found hidden or missing (issue 19), in real headless Chromium against a
// real `portus serve` with a configured registry host: form errors in the
// viewport with focus on their field, on a desktop and on a phone; the
// tokens-only switch refusing the password at /v2/token at once; the real
// registry host in the docker login lines; a reload after creating a
// token saying it was just created instead of re-posting the form.
func TestWebUIInChromiumFindings(t *testing.T) {
	exe := requireTool(t, "chromium")
	p := startPortus(t, "--registry-hosts", "registry.example.com:5000")
	p.createUser(t, "alice", "alice-password", false)
	shots := screenshotDir(t)
	browser := startChromium(t, exe)
	alice := newTab(t, browser, p.URL)
	alice.signIn(t, "alice", "alice-password")

	t.Run("reload after creating a token says it was just created", func(t *testing.T) {
		tok := alice.createToken(t, "ci")
		alice.wantFocus(t, "new-token")
		if !strings.HasPrefix(alice.location(t), p.URL+"/profile?created=") || strings.Contains(alice.location(t), tok) {
			t.Fatalf("after creation the browser is at %s, want the profile by post-redirect-get", alice.location(t))
		}
		alice.reload(t)
		alice.wantText(t, "#just-created", "Token 'ci' was just created. Its value was shown once and cannot be shown again.")
		if strings.Contains(alice.html(t), "ptk_") {
			t.Fatal("the reload shows the token again")
		}
		alice.screenshot(t, shots, "reload-after-creation.png")
	})

	t.Run("the registry host is in the docker login lines", func(t *testing.T) {
		alice.open(t, "/profile")
		alice.wantText(t, "#docker-login-lines", "docker login registry.example.com:5000 -u alice")
		alice.wantText(t, "#ci-example", `echo "$TOKEN" | docker login registry.example.com:5000 -u alice --password-stdin`)
		alice.wantText(t, "#cred-helpers", `"registry.example.com:5000": "portus"`)
		if strings.Contains(alice.body(t), "REGISTRY") {
			t.Error("the profile still shows the REGISTRY placeholder")
		}
	})

	for _, screen := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		t.Run("form errors in view and focused on a "+screen.name, func(t *testing.T) {
			alice.do(t, chromedp.EmulateViewport(screen.width, screen.height))
			alice.open(t, "/profile")
			alice.typeInto(t, "#current_password", "not-the-password")
			alice.typeInto(t, "#new_password", "new-password-1")
			alice.typeInto(t, "#new_password_confirmation", "new-password-1")
			alice.submit(t, "form[action^='/profile/password'] button[type=submit]", http.StatusUnauthorized)
			alice.wantText(t, "#password-error", "Your current password is not correct")
			alice.wantInView(t, "#password-error")
			alice.wantFocus(t, "current_password")
			alice.viewportShot(t, shots, "password-error-"+screen.name+".png")

			alice.open(t, "/profile")
			alice.typeInto(t, "#token-name", "ci")
			alice.submit(t, "#create-token button[type=submit]", http.StatusConflict)
			alice.wantText(t, "#token-error", "You already have a token with this name.")
			alice.wantInView(t, "#token-error")
			alice.wantFocus(t, "token-name")
			alice.viewportShot(t, shots, "token-error-"+screen.name+".png")
		})
	}
	alice.do(t, chromedp.EmulateViewport(1280, 900))

	t.Run("the tokens-only switch refuses the password at once", func(t *testing.T) {
		if code := registryTokenStatus(t, p, "alice", "alice-password", "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("the password at /v2/token before = %d", code)
		}
		alice.open(t, "/profile")
		alice.wantText(t, "#docker-login-state", "accepts your password as well as your application tokens")
		alice.click(t, "#tokens-only")
		alice.submit(t, "form[action^='/profile/docker-login'] button[type=submit]", http.StatusOK)
		if code := registryTokenStatus(t, p, "alice", "alice-password", "repository:alice/app:pull"); code != http.StatusUnauthorized {
			t.Fatalf("the password at /v2/token right after ticking = %d, want 401", code)
		}
		alice.wantText(t, "#docker-login-state", "docker login accepts only your application tokens: your password is refused. You chose this.")
		alice.wantInView(t, "#docker-login-state")
		alice.viewportShot(t, shots, "tokens-only-on.png")
	})
}

// wantInView checks that the whole element is inside the viewport.
func (b *tab) wantInView(t *testing.T, sel string) {
	t.Helper()
	script := fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
		return {Top: r.top, Bottom: r.bottom, Height: window.innerHeight}; })()`, sel)
	got, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[struct{ Top, Bottom, Height float64 }](script))
	if err != nil {
		t.Fatal(err)
	}
	box := got
	if box.Top < 0 || box.Bottom > box.Height {
		t.Fatalf("%s is out of view: top %.0f, bottom %.0f, viewport height %.0f", sel, box.Top, box.Bottom, box.Height)
	}
}

// wantFocus waits until the element with that id has the keyboard focus.
func (b *tab) wantFocus(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
		if err != nil {
			t.Fatal(err)
		}
		if got == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the focus is on #%s, want #%s", got, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *tab) location(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(b.timeout(t), chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
