package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/ldapauth/ldaptest"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// ldapServer is a Portus server whose passwords are checked by a real
// slapd (alice in the admins group, bob not), with a local administrator
// root.
type ldapServer struct {
	*testserver.Server
	dir *ldaptest.Server
}

func startLDAP(t *testing.T, configure func(*config.Config)) *ldapServer {
	t.Helper()
	dir := ldaptest.Start(t)
	passwordFile := dir.BindPasswordFile(t)
	s := testserver.Start(t, testserver.Options{Configure: func(c *config.Config) {
		c.URL = "https://portus.example.org"
		c.LDAP.URL = dir.URL
		c.LDAP.BindDN = ldaptest.ServiceDN
		c.LDAP.BindPasswordFile = passwordFile
		c.LDAP.Base = ldaptest.People
		c.LDAP.AdminGroup = ldaptest.AdminsGroup
		c.LDAP.Timeout = time.Second
		if configure != nil {
			configure(c)
		}
	}})
	s.AddUser("root", rootPW, true)
	return &ldapServer{Server: s, dir: dir}
}

const registryTokenPath = "/v2/token?service=registry"

func (s *ldapServer) user(t *testing.T, name string) apitypes.User {
	t.Helper()
	r := s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users/"+name, nil, basic("root", rootPW))
	var u apitypes.User
	testserver.Decode(t, r, &u)
	return u
}

func TestLDAPSignInCreatesTheUser(t *testing.T) {
	s := startLDAP(t, nil)
	s.Expect(http.StatusNotFound, http.MethodGet, "/api/v1/users/alice", nil, basic("root", rootPW))

	// Any password route signs in: here, minting a token as a script would.
	created := s.CreateToken("alice", ldaptest.AlicePassword, tokenReq("ci"))
	u := s.user(t, "alice")
	if u.Source != "ldap" || u.Email != "alice@example.org" || u.DisplayName != "Alice Liddell" || !u.Admin {
		t.Errorf("alice after her first sign-in: %+v", u)
	}
	r := s.Expect(http.StatusOK, http.MethodGet, registryTokenPath+"&scope=repository:alice/app:push", nil, basic("alice", ldaptest.AlicePassword))
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if tok.Token == "" {
		t.Fatal("no JWT for the directory password")
	}
	s.Expect(http.StatusOK, http.MethodGet, registryTokenPath, nil, basic("alice", created.Token))

	// bob is not an administrator.
	s.CreateToken("bob", ldaptest.BobPassword, tokenReq("ci"))
	if u := s.user(t, "bob"); u.Admin || u.Source != "ldap" || u.Email != "bob@example.org" {
		t.Errorf("bob: %+v", u)
	}
	// The local administrator still signs in with the local password.
	s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users", nil, basic("root", rootPW))
}

func TestLDAPAdminGroup(t *testing.T) {
	s := startLDAP(t, nil)
	s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users", nil, basic("alice", ldaptest.AlicePassword))
	s.Expect(http.StatusForbidden, http.MethodGet, "/api/v1/users", nil, basic("bob", ldaptest.BobPassword))

	s.dir.RemoveAdmin(t, "alice")
	s.dir.AddAdmin(t, "bob")
	// Their next sign-in refreshes the flag.
	s.Expect(http.StatusForbidden, http.MethodGet, "/api/v1/users", nil, basic("alice", ldaptest.AlicePassword))
	s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users", nil, basic("bob", ldaptest.BobPassword))
	if u := s.user(t, "alice"); u.Admin {
		t.Error("alice is still an administrator after leaving the group")
	}
	// The registry sees it too: the catalog is for administrators.
	r := s.Expect(http.StatusOK, http.MethodGet, registryTokenPath+"&scope=registry:catalog:*", nil, basic("bob", ldaptest.BobPassword))
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if access := accessOf(t, tok.Token); len(access) != 1 {
		t.Errorf("bob, now an administrator, got %+v for the catalog", access)
	}
}

func TestLDAPWrongAndEmptyPasswords(t *testing.T) {
	s := startLDAP(t, nil)
	for _, pw := range []string{"wrong-password", ldaptest.BobPassword, ""} {
		s.CoolDown()
		r := s.Do(http.MethodGet, registryTokenPath, nil, basic("alice", pw))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("/v2/token with %q: %s", pw, r)
		}
		if pw != "" {
			s.CoolDown()
			want401(t, "POST /api/v1/tokens with a wrong password", s.Do(http.MethodPost, apitypes.TokensPath, tokenReq("x"), basic("alice", pw)))
		}
	}
	// The empty password never reached the directory: two wrong passwords
	// at /v2/token and two at the API are four binds as alice.
	s.dir.WaitBinds(ldaptest.UserDN("alice"), 4)
	time.Sleep(100 * time.Millisecond)
	if n := s.dir.Binds(ldaptest.UserDN("alice")); n != 4 {
		t.Errorf("alice's DN was bound %d times, want 4", n)
	}
	s.Expect(http.StatusNotFound, http.MethodGet, "/api/v1/users/alice", nil, basic("root", rootPW))
}

// TestLDAPTokenShapedSecretsNeverReachTheDirectory counts the binds slapd
// logs for alice's DN.
func TestLDAPTokenShapedSecretsNeverReachTheDirectory(t *testing.T) {
	s := startLDAP(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	aliceDN := ldaptest.UserDN("alice")
	created := s.CreateToken("alice", ldaptest.AlicePassword, tokenReq("laptop"))
	if n := s.dir.WaitBinds(aliceDN, 1); n != 1 {
		t.Fatalf("the sign-in was %d binds", n)
	}
	last := created.Token[len(created.Token)-1]
	typo := created.Token[:len(created.Token)-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
	if !apptoken.LooksLike(typo) || apptoken.Valid(typo) {
		t.Fatal("the typo should look like a token and fail its checksum")
	}
	other, _ := apptoken.New()
	for i, secret := range []string{typo, other} {
		ip := fromIP("198.51.100." + string(rune('1'+i)))
		want401(t, "/api/v1/tokens with a token-shaped secret", s.Do(http.MethodGet, apitypes.TokensPath, nil, basic("alice", secret), ip))
		want401(t, "Portus-Auth with a token-shaped secret", s.Do(http.MethodGet, apitypes.TokensPath, nil, pauth("alice", secret), ip))
		if r := s.Do(http.MethodGet, registryTokenPath, nil, basic("alice", secret), ip); r.Status != http.StatusUnauthorized {
			t.Errorf("/v2/token with a token-shaped secret: %s", r)
		}
		form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {secret}, "service": {"registry"}}
		r := s.Do(http.MethodPost, "/v2/token", form.Encode(), ip, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		})
		if r.Status != http.StatusUnauthorized {
			t.Errorf("POST /v2/token with a token-shaped secret: %s", r)
		}
	}
	// A control: one more password sign-in is seen, so the log is current.
	s.Expect(http.StatusOK, http.MethodGet, registryTokenPath, nil, basic("alice", ldaptest.AlicePassword))
	if n := s.dir.WaitBinds(aliceDN, 2); n != 2 {
		t.Errorf("alice's DN was bound %d times: token-shaped secrets reached the directory", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := s.dir.Binds(aliceDN); n != 2 {
		t.Errorf("alice's DN was bound %d times, want 2", n)
	}
	// And the wrong tokens did not count as password failures: alice's
	// password works from their addresses.
	s.Expect(http.StatusOK, http.MethodGet, registryTokenPath, nil, basic("alice", ldaptest.AlicePassword), fromIP("198.51.100.1"))
}

func TestLDAPTokensOnly(t *testing.T) {
	s := startLDAP(t, func(c *config.Config) {
		c.DockerLogin = config.DockerLoginTokensOnly
		c.TrustedProxies = []string{"127.0.0.1", "::1"}
	})
	aliceDN := ldaptest.UserDN("alice")

	// Scripts can still mint tokens with the password.
	created := s.CreateToken("alice", ldaptest.AlicePassword, tokenReq("laptop"))
	binds := s.dir.WaitBinds(aliceDN, 1)

	for _, path := range []string{registryTokenPath, registryTokenPath + "&scope=repository:alice/app:pull,push"} {
		r := s.Do(http.MethodGet, path, nil, basic("alice", ldaptest.AlicePassword))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("GET %s with the password: %s", path, r)
		}
		var body struct{ Message, Details string }
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		// docker login prints "details".
		if !strings.Contains(body.Details, "https://portus.example.org/profile") || !strings.Contains(body.Details, "application token") ||
			!strings.Contains(body.Details, "as the password") {
			t.Errorf("the refusal does not say what to do: %s", r)
		}
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate on the 401")
		}
	}
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {ldaptest.AlicePassword}, "service": {"registry"}}
	r := s.Do(http.MethodPost, "/v2/token", form.Encode(), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	})
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Message(), "/profile") {
		t.Errorf("POST /v2/token with the password: %s", r)
	}
	// A local password is refused too.
	if r := s.Do(http.MethodGet, registryTokenPath, nil, basic("root", rootPW)); r.Status != http.StatusUnauthorized || !strings.Contains(r.Message(), "/profile") {
		t.Errorf("root's password: %s", r)
	}
	// The token works.
	r = s.Expect(http.StatusOK, http.MethodGet, registryTokenPath+"&scope=repository:alice/app:pull,push", nil, basic("alice", created.Token))
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if len(accessOf(t, tok.Token)) != 1 {
		t.Errorf("the token got %s", r)
	}
	// Refused passwords were never sent to the directory.
	time.Sleep(100 * time.Millisecond)
	if n := s.dir.Binds(aliceDN); n != binds {
		t.Errorf("refused passwords made %d binds", n-binds)
	}

	// The refusals above count like failed passwords from this address
	// (five of them delay it): the administrator works from another one.
	asRoot := func(r *http.Request) { basic("root", rootPW)(r); testserver.FromIP("192.0.2.50")(r) }

	// An administrator lets alice use her password; then takes it back.
	allowed := "passwords_allowed"
	s.Expect(http.StatusOK, http.MethodPatch, "/api/v1/users/alice", apitypes.UpdateUserRequest{DockerLogin: &allowed}, asRoot)
	s.Expect(http.StatusOK, http.MethodGet, registryTokenPath, nil, basic("alice", ldaptest.AlicePassword))
	def := ""
	r = s.Expect(http.StatusOK, http.MethodPatch, "/api/v1/users/alice", apitypes.UpdateUserRequest{DockerLogin: &def}, asRoot)
	var u apitypes.User
	testserver.Decode(t, r, &u)
	if u.DockerLogin != "" {
		t.Errorf("after resetting: %+v", u)
	}
	s.Expect(http.StatusUnauthorized, http.MethodGet, registryTokenPath, nil, basic("alice", ldaptest.AlicePassword))
	bad := "never"
	if r := s.Do(http.MethodPatch, "/api/v1/users/alice", apitypes.UpdateUserRequest{DockerLogin: &bad}, asRoot); r.Status != http.StatusBadRequest || !strings.Contains(r.Message(), "docker_login") {
		t.Errorf("a bad docker_login: %s", r)
	}
	// Users may not change their own policy.
	s.Expect(http.StatusForbidden, http.MethodPatch, "/api/v1/users/bob", apitypes.UpdateUserRequest{DockerLogin: &allowed}, basic("bob", ldaptest.BobPassword), testserver.FromIP("192.0.2.51"))
}

// TestLDAPDirectoryDown: with slapd killed, and then hung, password
// sign-ins get 503 within the timeout while tokens still get JWTs.
func TestLDAPDirectoryDown(t *testing.T) {
	for _, mode := range []string{"killed", "hung"} {
		t.Run(mode, func(t *testing.T) {
			const timeout = 700 * time.Millisecond
			s := startLDAP(t, func(c *config.Config) { c.LDAP.Timeout = timeout })
			created := s.CreateToken("alice", ldaptest.AlicePassword, tokenReq("laptop"))
			if mode == "killed" {
				s.dir.Kill()
			} else {
				s.dir.Freeze()
				defer s.dir.Thaw()
			}
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, registryTokenPath + "&scope=repository:alice/app:pull", nil},
				{http.MethodGet, registryTokenPath, nil},
				{http.MethodPost, apitypes.TokensPath, tokenReq("another")},
			} {
				start := time.Now()
				r := s.Do(req.method, req.path, req.body, basic("alice", ldaptest.AlicePassword))
				took := time.Since(start)
				if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Message(), "directory server is not answering") ||
					!strings.Contains(r.Message(), "application token") {
					t.Errorf("%s %s with the directory %s: %s", req.method, req.path, mode, r)
				}
				if took > timeout+300*time.Millisecond {
					t.Errorf("%s %s took %s with a timeout of %s", req.method, req.path, took, timeout)
				}
			}
			if r := s.Do(http.MethodGet, registryTokenPath, nil, basic("alice", ldaptest.AlicePassword)); !strings.Contains(string(r.Body), `"details"`) {
				t.Errorf("/v2/token's 503 has no details for docker to print: %s", r)
			}
			// Tokens never need the directory.
			r := s.Expect(http.StatusOK, http.MethodGet, registryTokenPath+"&scope=repository:alice/app:pull", nil, basic("alice", created.Token))
			var tok apitypes.RegistryToken
			testserver.Decode(t, r, &tok)
			if len(accessOf(t, tok.Token)) != 1 {
				t.Errorf("the token got %s", r)
			}
			s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, pauth("alice", created.Token))
			// Nor does the local administrator.
			s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users", nil, basic("root", rootPW))
			if strings.Contains(s.Log.String(), ldaptest.AlicePassword) {
				t.Error("the server log holds the password")
			}
		})
	}
}
