package app_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// TestNoSecretsInLogs drives the real router with the server's logger
// writing to a buffer: tokens created and used, recognisable wrong
// passwords, token-shaped wrong secrets, secrets in query strings and
// bodies. None may reach the log.
func TestNoSecretsInLogs(t *testing.T) {
	logs := &testutil.LockedBuffer{}
	s := testserver.Start(t, testserver.Options{Log: logs})
	const (
		rootPW  = "Root-Secret-Octopus-11"
		alicePW = "Alice-Secret-Narwhal-22"
		wrongPW = "Wrong-Secret-Pangolin-33"
		newPW   = "New-Secret-Axolotl-44"
	)
	s.AddUser("root", rootPW, true)
	s.AddUser("alice", alicePW, false)
	forged, _ := apptoken.New()
	typo := []byte(forged)
	typo[12] ^= 1
	secrets := []string{rootPW, alicePW, wrongPW, newPW, forged, string(typo)}

	a := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "laptop"})
	b := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "ci", Scope: "pull"})
	var c apitypes.CreatedToken
	testserver.Decode(t, s.Expect(201, "POST", "/api/v1/users/alice/tokens", apitypes.CreateTokenRequest{Name: "by-root"}, testserver.Basic("root", rootPW)), &c)
	secrets = append(secrets, a.Token, b.Token, c.Token)

	do := func(method, path string, body any, opts ...testserver.Opt) {
		s.Do(method, path, body, opts...)
		s.CoolDown()
	}
	do("GET", "/api/v1/tokens", nil, testserver.Basic("alice", a.Token))
	do("GET", "/api/v1/tokens", nil, testserver.PortusAuth("alice", b.Token))
	do("GET", "/api/v1/activities", nil, testserver.Basic("alice", b.Token))
	do("GET", "/api/v1/tokens", nil, testserver.Basic("alice", wrongPW))
	do("GET", "/api/v1/tokens", nil, testserver.Basic("nobody", wrongPW))
	do("GET", "/api/v1/tokens", nil, testserver.Basic(wrongPW, wrongPW))
	do("GET", "/api/v1/tokens", nil, testserver.Basic("alice", forged))
	do("GET", "/api/v1/tokens", nil, testserver.Basic("alice", string(typo)))
	do("GET", "/api/v1/tokens", nil, testserver.PortusAuth("alice", forged))
	do("GET", "/api/v1/tokens?password="+url.QueryEscape(wrongPW)+"&token="+a.Token, nil)
	do("POST", "/api/v1/tokens", `{"name":"x","scope":"`+a.Token+`"}`, testserver.Basic("alice", alicePW))
	do("POST", "/api/v1/tokens", `{"name":"`+wrongPW, testserver.Basic("alice", alicePW))
	do("POST", "/api/v1/users", apitypes.CreateUserRequest{Name: "carol", Password: newPW}, testserver.Basic("root", rootPW))
	do("POST", "/api/v1/users", apitypes.CreateUserRequest{Name: "Bad Name", Password: newPW}, testserver.Basic("root", rootPW))
	do("GET", "/v2/token?service=registry&scope=repository:alice/app:pull", nil, testserver.Basic("alice", a.Token))
	do("GET", "/v2/token?service=registry&scope=repository:alice/app:pull", nil, testserver.Basic("alice", wrongPW))
	do("GET", "/v2/token?service=registry&scope=repository:alice/app:pull", nil, testserver.Basic("alice", forged))
	do("POST", "/v2/token", "grant_type=password&service=registry&username=alice&password="+url.QueryEscape(wrongPW),
		func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") })
	do("DELETE", "/api/v1/tokens/current", nil, testserver.Basic("alice", a.Token))
	do("DELETE", "/api/v1/tokens/current", nil, testserver.Basic("alice", a.Token))
	// Many failures in a row, up to throttling.
	for i := 0; i < 12; i++ {
		s.Do("GET", "/api/v1/tokens", nil, testserver.Basic("alice", wrongPW))
	}
	s.Close() // the final flush and close may log too

	out := logs.String()
	if !strings.Contains(out, "status=401") || !strings.Contains(out, "status=201") || !strings.Contains(out, "status=429") {
		t.Fatalf("the log did not capture the requests:\n%s", out)
	}
	for _, secret := range secrets {
		for _, form := range []string{secret, url.QueryEscape(secret), base64.StdEncoding.EncodeToString([]byte(secret)),
			base64.StdEncoding.EncodeToString([]byte("alice:" + secret))} {
			if strings.Contains(out, form) {
				t.Errorf("the log contains the secret %.10s… (as %.16s…)", secret, form)
			}
		}
		if apptoken.LooksLike(secret) && strings.Contains(out, secret[4:36]) {
			t.Errorf("the log contains the random part of %.10s…", secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}
