package web_test

import (
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
)

// page is one answer as a browser sees it.
type page struct {
	URL    string // the path it was asked for
	Status int
	Header http.Header
	Body   string
}

func (p *page) String() string {
	body := p.Body
	if len(body) > 2000 {
		body = body[:2000] + "…"
	}
	return http.StatusText(p.Status) + "\n" + body
}

// Location is the redirect target of a 3xx.
func (p *page) Location() string { return p.Header.Get("Location") }

var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// csrf returns the first CSRF token of the page's forms.
func (p *page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no csrf_token on the page:\n%s", p)
	}
	return html.UnescapeString(m[1])
}

// text returns the page's text content, roughly: tags removed, entities
// decoded, spaces collapsed.
func (p *page) text() string {
	s := regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(p.Body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects, so that tests see them.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(method, path string, form url.Values, opts ...testserver.Opt) *page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return &page{URL: path, Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

func (b *browser) get(path string, opts ...testserver.Opt) *page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, opts...)
}

// submit loads the page at from, takes its CSRF token, and posts values to
// action, as a person filling in the form would.
func (b *browser) submit(from, action string, values url.Values) *page {
	b.t.Helper()
	form := b.get(from)
	if form.Status != http.StatusOK {
		b.t.Fatalf("GET %s = %s", from, form)
	}
	v := url.Values{}
	for k, vs := range values {
		v[k] = vs
	}
	v.Set("csrf_token", form.csrf(b.t))
	return b.do(http.MethodPost, action, v)
}

// follow loads the target of a redirect.
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		b.t.Fatalf("want a redirect, got %s", p)
	}
	return b.get(p.Location())
}

// cookie returns the browser's cookie by that name, or nil.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie replaces a cookie in the browser's jar.
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.base)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// signUp creates an account on the sign-up page and expects to land on
// the profile.
func (b *browser) signUp(name, password string) *page {
	b.t.Helper()
	p := b.submit("/signup", "/signup", url.Values{"username": {name}, "password": {password}, "password_confirmation": {password}})
	if p.Status != http.StatusSeeOther || p.Location() != "/profile" {
		b.t.Fatalf("sign-up of %s = %s (Location %q)", name, p, p.Location())
	}
	return b.follow(p)
}

// signIn signs in on the sign-in page and expects to land on the profile.
func (b *browser) signIn(name, password string) *page {
	b.t.Helper()
	p := b.submit("/signin", "/signin", url.Values{"username": {name}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Location() != "/profile" {
		b.t.Fatalf("sign-in of %s = %s", name, p)
	}
	return b.follow(p)
}

var newTokenPattern = regexp.MustCompile(`id="new-token" class="token" value="([^"]+)"`)

// createToken creates a token on the profile page and returns the page
// and the token read from it.
func (b *browser) createToken(name, scope string) (*page, string) {
	b.t.Helper()
	posted := b.submit("/profile", "/profile/tokens", url.Values{"name": {name}, "scope": {scope}})
	if posted.Status != http.StatusSeeOther || !strings.HasPrefix(posted.Location(), "/profile?created=") {
		b.t.Fatalf("creating token %s = %s (Location %q), want a redirect to the profile", name, posted, posted.Location())
	}
	p := b.follow(posted)
	m := newTokenPattern.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no new token on the page:\n%s", p)
	}
	return p, m[1]
}

// start runs the real public handler on a fresh data directory, with cheap
// password hashing.
func start(t *testing.T, o testserver.Options) *testserver.Server {
	t.Helper()
	return testserver.Start(t, o)
}

// startWith runs the public handler on a configuration that change
// adjusts (for settings testserver does not expose), and returns its URL.
func startWith(t *testing.T, change func(*config.Config)) string {
	t.Helper()
	c := config.Defaults()
	c.Data = filepath.Join(t.TempDir(), "data")
	change(&c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, c)
	return "http://" + ln.Addr().String()
}

// serve validates c and runs the public handler of a server on it on ln
// until the test ends.
func serve(t *testing.T, ln net.Listener, c config.Config) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	core, err := app.OpenCore(c, account.Options{PasswordParams: testserver.CheapParams, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.PublicHandler(core, log)
	if err != nil {
		core.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		core.Close()
	})
}

// registryStatus asks /v2/token for a pull as docker would, with user and
// secret as HTTP Basic.
func registryStatus(t *testing.T, base, user, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v2/token?service=registry&scope=repository:"+user+"/app:pull", nil)
	req.SetBasicAuth(user, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
