package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/portusproject/portus/internal/testutil"
)

// TestWebUIInChromium walks through the web UI in real headless Chromium
// (Debian's chromium, never a downloaded browser) against a real `portus
// serve`: sign-up, sign-in, creating, using, reloading and removing a
// token, the token limit, a token typed as a password, a forged form, and
// an administrator disabling a user who is signed in elsewhere.
//
// Screenshots go to $PORTUS_SCREENSHOTS, or to a new temporary directory
// that the test prints and leaves for a reviewer.
func TestWebUIInChromium(t *testing.T) {
	exe := requireTool(t, "chromium")
	p := startPortus(t)
	shots := screenshotDir(t)
	browser := startChromium(t, exe)

	alice := newTab(t, browser, p.URL)
	alicePassword := "alice-password"
	var firstToken, keptToken string

	t.Run("first sign-up becomes administrator", func(t *testing.T) {
		alice.open(t, "/signup")
		alice.wantText(t, "#first-admin", "becomes the administrator")
		alice.screenshot(t, shots, "signup-first-account.png")
		alice.typeInto(t, "#username", "alice")
		alice.typeInto(t, "#password", alicePassword)
		alice.typeInto(t, "#password_confirmation", alicePassword)
		alice.submit(t, "form[action='/signup'] button[type=submit]", http.StatusOK)
		alice.wantPath(t, "/profile")
		alice.wantBody(t, "Yours is the first account, so you are the administrator")
		alice.wantPresent(t, `nav a[href="/admin/users"]`, true)
	})

	t.Run("sign out and sign in", func(t *testing.T) {
		alice.submit(t, "form.signout button", http.StatusOK)
		alice.wantPath(t, "/signin")
		alice.wantBody(t, "You have signed out.")
		alice.signIn(t, "alice", alicePassword)
		alice.wantText(t, "nav a.me", "alice")
		alice.screenshot(t, shots, "profile-before-token.png")
	})

	t.Run("create a token and read it from the page", func(t *testing.T) {
		firstToken = alice.createToken(t, "ci")
		alice.wantBody(t, "Token 'ci' was created successfully.")
		alice.wantBody(t, "will not be shown again")
		// The copy button is progressive enhancement: shown by the script.
		alice.wantVisible(t, "button[data-copy]")
		alice.click(t, "button[data-copy]")
		alice.wantText(t, "button[data-copy]", "Copied")
		alice.screenshot(t, shots, "profile-with-new-token.png")
	})

	t.Run("the token works as a password at /v2/token", func(t *testing.T) {
		if code := registryTokenStatus(t, p, "alice", firstToken, "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("/v2/token with the token from the page = %d, want 200", code)
		}
	})

	t.Run("reload does not show it", func(t *testing.T) {
		alice.reload(t)
		if body := alice.body(t); strings.Contains(body, firstToken) {
			t.Fatal("reloading the page shows the token again")
		}
		alice.wantPresent(t, "#new-token", false)
		alice.open(t, "/profile")
		if body := alice.body(t); strings.Contains(body, firstToken) || strings.Contains(alice.html(t), "ptk_") {
			t.Fatal("the profile shows the token again")
		}
	})

	t.Run("create up to the limit and see the form replaced", func(t *testing.T) {
		for i := 2; i <= 5; i++ {
			tok := alice.createToken(t, fmt.Sprintf("token-%d", i))
			if i == 2 {
				keptToken = tok
			}
		}
		alice.open(t, "/profile")
		alice.wantText(t, "#token-limit", "You have 5 application tokens, the most allowed. Remove one to create another.")
		alice.wantPresent(t, "#create-token", false)
		alice.screenshot(t, shots, "profile-at-limit.png")
	})

	t.Run("remove one through the confirmation", func(t *testing.T) {
		alice.submit(t, `tr[data-token="ci"] a`, http.StatusOK)
		alice.wantText(t, "h1", "Remove the token 'ci'?")
		alice.screenshot(t, shots, "remove-token-confirmation.png")
		alice.submit(t, "#confirm", http.StatusOK)
		alice.wantPath(t, "/profile")
		alice.wantBody(t, "Token 'ci' was removed successfully.")
		alice.wantPresent(t, `tr[data-token="ci"]`, false)
		alice.wantPresent(t, "#create-token", true)
		if code := registryTokenStatus(t, p, "alice", firstToken, "repository:alice/app:pull"); code != http.StatusUnauthorized {
			t.Fatalf("/v2/token with the removed token = %d, want 401", code)
		}
	})

	t.Run("a token typed into the sign-in form is refused", func(t *testing.T) {
		alice.submit(t, "form.signout button", http.StatusOK)
		alice.typeInto(t, "#username", "alice")
		alice.typeInto(t, "#password", keptToken)
		alice.submit(t, "form[action='/signin'] button[type=submit]", http.StatusUnauthorized)
		alice.wantText(t, "#signin-error", "Invalid username or password.")
		alice.screenshot(t, shots, "signin-with-token-refused.png")
		alice.open(t, "/profile")
		alice.wantPath(t, "/signin")
		if code := registryTokenStatus(t, p, "alice", keptToken, "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("the token itself stopped working: %d", code)
		}
		alice.signIn(t, "alice", alicePassword)
	})

	t.Run("a forged POST without the CSRF token gets 403", func(t *testing.T) {
		resp := alice.postForged(t, "/profile/tokens", "name", "forged")
		if resp.Status != http.StatusForbidden {
			t.Fatalf("forged POST answered %d, want 403", resp.Status)
		}
		alice.wantBody(t, "could not be verified")
		alice.screenshot(t, shots, "forged-post-403.png")
		alice.open(t, "/profile")
		alice.wantPresent(t, `tr[data-token="forged"]`, false)
	})

	t.Run("an admin disables a user and the user's session and tokens stop working", func(t *testing.T) {
		bob := newTab(t, browser, p.URL)
		bob.open(t, "/signup")
		bob.wantPresent(t, "#first-admin", false)
		bob.typeInto(t, "#username", "bob")
		bob.typeInto(t, "#password", "bob-password")
		bob.typeInto(t, "#password_confirmation", "bob-password")
		bob.submit(t, "form[action='/signup'] button[type=submit]", http.StatusOK)
		bob.wantPath(t, "/profile")
		bob.wantPresent(t, `nav a[href="/admin/users"]`, false)
		bobToken := bob.createToken(t, "laptop")
		if code := registryTokenStatus(t, p, "bob", bobToken, "repository:bob/app:pull"); code != http.StatusOK {
			t.Fatalf("bob's new token = %d", code)
		}

		alice.open(t, "/admin/users")
		alice.wantPresent(t, `tr[data-user="bob"]`, true)
		alice.submit(t, `tr[data-user="bob"] a[aria-label="Disable bob"]`, http.StatusOK)
		alice.wantText(t, "h1", "Disable bob?")
		alice.submit(t, "#confirm", http.StatusOK)
		alice.wantBody(t, "User 'bob' was disabled.")
		alice.wantPresent(t, `tr[data-user="bob"] form[action="/admin/users/bob/enable"]`, true)
		alice.screenshot(t, shots, "admin-users.png")

		bob.open(t, "/profile")
		bob.wantPath(t, "/signin")
		bob.wantBody(t, "Sign in to see that page.")
		if code := registryTokenStatus(t, p, "bob", bobToken, "repository:bob/app:pull"); code != http.StatusUnauthorized {
			t.Fatalf("the disabled user's token = %d, want 401", code)
		}
	})

	t.Run("readable on a phone", func(t *testing.T) {
		alice.do(t, chromedp.EmulateViewport(390, 844))
		alice.open(t, "/profile")
		// Nothing wider than the screen: no sideways scrolling.
		wide, err := chromedp.Run(alice.timeout(t), chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		alice.viewportShot(t, shots, "profile-phone.png")
		if wide {
			t.Error("the profile page scrolls sideways on a 390 px wide screen")
		}
	})
}

// screenshotDir is $PORTUS_SCREENSHOTS or a new directory that outlives
// the test, so that a reviewer can look at the pictures.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PORTUS_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "portus-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of the web UI are written to %s", dir)
	return dir
}

// startChromium starts one headless Chromium for the test, with a fresh
// profile and nothing that reaches out to the network by itself.
func startChromium(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	out := &testutil.LockedBuffer{}
	opts = append(opts, chromedp.CombinedOutput(out))
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		allocCancel() // waits for the browser to exit before its profile is removed
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// The first run starts the browser and must not carry a timeout (that
	// would end the browser with it), so a watchdog bounds the start.
	watchdog := time.AfterFunc(30*time.Second, cancel)
	defer watchdog.Stop()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// tab is one browser context (its own cookies, like a separate browser
// profile) with one page, on the Portus server at base.
type tab struct {
	ctx  context.Context
	base string
}

func newTab(t *testing.T, browser context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return &tab{ctx: ctx, base: base}
}

// timeout returns a context for one step; a stuck step fails the test
// instead of hanging it.
func (b *tab) timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (b *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.timeout(t), steps...); err != nil {
		t.Fatal(err)
	}
}

// open navigates to a path and returns the final response.
func (b *tab) open(t *testing.T, path string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(b.timeout(t), chromedp.NavigateResponse(b.base+path))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	return resp
}

// submit clicks a button or link that loads a page, and checks the status
// of the page it ends on (after redirects).
func (b *tab) submit(t *testing.T, sel string, want int) {
	t.Helper()
	resp, err := chromedp.RunResponse(b.timeout(t), chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
	if int(resp.Status) != want {
		t.Fatalf("clicking %s led to %s with status %d, want %d:\n%s", sel, resp.URL, resp.Status, want, b.body(t))
	}
}

// run evaluates a script that loads a page and returns its response.
func (b *tab) run(t *testing.T, script string) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(b.timeout(t), chromedp.Evaluate[chromedp.Void](script))
	if err != nil {
		t.Fatalf("running a script: %v", err)
	}
	return resp
}

// postForged submits, from the tab's page, a same-origin form to action
// with one field and no csrf_token — as injected markup would post it,
// with the tab's session cookie — and returns the response.
func (b *tab) postForged(t *testing.T, action, field, value string) *network.Response {
	t.Helper()
	return b.run(t, fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = %q;
		const i = document.createElement("input");
		i.name = %q;
		i.value = %q;
		f.appendChild(i);
		document.body.appendChild(f);
		f.submit();
	})()`, action, field, value))
}

func (b *tab) click(t *testing.T, sel string) {
	t.Helper()
	b.do(t, chromedp.Click(chromedp.CSS(sel)))
}

func (b *tab) reload(t *testing.T) {
	t.Helper()
	b.do(t, chromedp.Reload())
}

func (b *tab) typeInto(t *testing.T, sel, text string) {
	t.Helper()
	b.do(t, chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (b *tab) wantVisible(t *testing.T, sel string) {
	t.Helper()
	b.do(t, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// wantText waits until the element shows text that contains want.
func (b *tab) wantText(t *testing.T, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := chromedp.Run(b.timeout(t), chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %q, want %q", sel, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantPresent checks whether an element exists on the page.
func (b *tab) wantPresent(t *testing.T, sel string, want bool) {
	t.Helper()
	got, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("element %s present = %v, want %v; the page says:\n%s", sel, got, want, b.body(t))
	}
}

func (b *tab) body(t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *tab) html(t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *tab) wantBody(t *testing.T, want string) {
	t.Helper()
	if body := b.body(t); !strings.Contains(body, want) {
		t.Fatalf("the page does not say %q:\n%s", want, body)
	}
}

func (b *tab) wantPath(t *testing.T, want string) {
	t.Helper()
	loc, err := chromedp.Run(b.timeout(t), chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if loc != b.base+want {
		t.Fatalf("the browser is at %s, want %s", loc, b.base+want)
	}
}

// signIn fills in and submits the sign-in page.
func (b *tab) signIn(t *testing.T, name, password string) {
	t.Helper()
	b.open(t, "/signin")
	b.typeInto(t, "#username", name)
	b.typeInto(t, "#password", password)
	b.submit(t, "form[action='/signin'] button[type=submit]", http.StatusOK)
	b.wantPath(t, "/profile")
}

// createToken creates a token on the profile page and returns its value as
// the page shows it.
func (b *tab) createToken(t *testing.T, name string) string {
	t.Helper()
	b.open(t, "/profile")
	b.typeInto(t, "#token-name", name)
	b.submit(t, "#create-token button[type=submit]", http.StatusOK)
	tok, err := chromedp.Run(b.timeout(t), chromedp.Value(chromedp.CSS("#new-token")))
	if err != nil {
		t.Fatalf("reading the new token: %v", err)
	}
	if !strings.HasPrefix(tok, "ptk_") || len(tok) != 42 {
		t.Fatalf("the page shows %q as the new token", tok)
	}
	return tok
}

// viewportShot saves what the screen shows as a PNG.
func (b *tab) viewportShot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.timeout(t), chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// screenshot saves the whole page as a PNG.
func (b *tab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.timeout(t), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
