// Package oidcprovider runs a real OpenID provider on loopback for tests:
// zitadel/oidc's OpenID-certified op package with the in-memory storage
// and username/password login page of that module's example server. Only
// three things are added around the example's storage: users made by the
// test (AddUser, with groups in a "groups" claim), claims in the ID token
// (as Keycloak or Okta put them there), and Tamper, which makes the
// provider's next token response carry a real, provider-signed ID token a
// misbehaving or hostile provider could send (wrong nonce, expired, or
// one issued to another client).
//
// A browser signs in on the provider's page by filling UsernameField and
// PasswordField and clicking SubmitButton; a test without a browser uses
// SignIn, which submits the same form over HTTP.
package oidcprovider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	exstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// CSS selectors of the provider's login form, for chromedp.
const (
	UsernameField = "#username"
	PasswordField = "#password"
	SubmitButton  = `button[type="submit"]`
)

// GroupsScope asks for the "groups" claim.
const GroupsScope = "groups"

// OtherClientID is a second client registered at the provider, with the
// same redirect URI: for tests of tokens meant for someone else.
const OtherClientID = "other-app"

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is the provider's issuer URL (http://127.0.0.1:PORT).
	Issuer string
	// ClientID and ClientSecret are Portus' registration; SecretFile holds
	// the secret, for oidc.client_secret_file.
	ClientID, ClientSecret, SecretFile string
	// OtherClientSecret is OtherClientID's secret, for redeeming its codes.
	OtherClientSecret string

	users *users
	st    *storage
}

// Start runs a provider until the test ends. redirectURI is where it may
// send browsers back (URL/signin/oidc/callback; see SetRedirectURI).
func Start(t testing.TB, redirectURI string) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the OpenID provider: %v", err)
	}
	issuer := "http://" + ln.Addr().String()
	secret, otherSecret := randomHex(), randomHex()
	us := &users{byID: map[string]*exstorage.User{}, groups: map[string][]string{}}
	clients := map[string]*exstorage.Client{
		"portus":      exstorage.WebClient("portus", secret),
		OtherClientID: exstorage.WebClient(OtherClientID, otherSecret),
	}
	st := &storage{Storage: exstorage.NewStorageWithClients(us, clients), users: us, redirect: redirectURI}
	srv := httptest.NewUnstartedServer(st.tamperTokens(exampleop.SetupServer(issuer, st, nil, false)))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "oidc-client-secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Provider{
		Issuer: issuer, ClientID: "portus", ClientSecret: secret, SecretFile: file,
		OtherClientSecret: otherSecret, users: us, st: st,
	}
}

// SetRedirectURI changes where the provider may send browsers back, for a
// relying party whose address is known only after the provider started.
func (p *Provider) SetRedirectURI(uri string) {
	p.st.mu.Lock()
	p.st.redirect = uri
	p.st.mu.Unlock()
}

func (p *Provider) redirectURI() string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.redirect
}

// AddUser adds (or replaces) a person who can sign in with name and
// password; their groups are in the "groups" claim. Their email is
// NAME@example.test and their name "NAME Tester"; their subject is
// "sub-NAME".
func (p *Provider) AddUser(name, password string, groups ...string) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.byID["sub-"+name] = &exstorage.User{
		ID: "sub-" + name, Username: name, Password: password, FirstName: name, LastName: "Tester",
		Email: name + "@example.test", EmailVerified: true,
	}
	p.users.groups["sub-"+name] = slices.Clone(groups)
}

// SetGroups changes a person's groups, as seen at their next sign-in.
func (p *Provider) SetGroups(name string, groups ...string) {
	p.users.mu.Lock()
	p.users.groups["sub-"+name] = slices.Clone(groups)
	p.users.mu.Unlock()
}

// users is the example storage's UserStore, filled by the test.
type users struct {
	mu     sync.Mutex
	byID   map[string]*exstorage.User
	groups map[string][]string
}

func (u *users) GetUserByID(id string) *exstorage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byID[id]
}

func (u *users) GetUserByUsername(name string) *exstorage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}

func (u *users) ExampleClientID() string { return exstorage.ServiceUserID }

func (u *users) groupsOf(id string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.groups[id])
}

// storage is the example's storage with the additions of the package doc.
type storage struct {
	*exstorage.Storage
	users *users

	mu       sync.Mutex
	tamper   *Tamper // for the next token request (see tamperTokens)
	redirect string  // the one redirect URI of every client
}

// GetClientByClientID has clients assert the user's claims in the ID
// token, as most providers do for the code flow.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tm, _ := ctx.Value(tamperKey{}).(*Tamper)
	return claimsInIDToken{c, s.redirect, tm != nil && tm.Expired}, nil
}

type claimsInIDToken struct {
	op.Client
	redirect string
	expired  bool // sign ID tokens that expired an hour ago (Tamper.Expired)
}

func (c claimsInIDToken) IDTokenLifetime() time.Duration {
	if c.expired {
		return -time.Hour
	}
	return c.Client.IDTokenLifetime()
}

func (c claimsInIDToken) RedirectURIs() []string { return []string{c.redirect} }

func (claimsInIDToken) IDTokenUserinfoClaimsAssertion() bool { return true }

// IsScopeAllowed adds the groups scope to the example's custom one.
func (c claimsInIDToken) IsScopeAllowed(scope string) bool {
	return scope == GroupsScope || c.Client.IsScopeAllowed(scope)
}

// SetUserinfoFromRequest adds the groups claim to the ID token.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, GroupsScope) {
		info.AppendClaims("groups", s.users.groupsOf(req.GetSubject()))
	}
	return nil
}

func randomHex() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// ensure the wrapped storage still is what the example server needs.
var _ exampleop.Storage = (*storage)(nil)
