package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
)

// A directory account's password cannot be changed here: the profile says
// where to change it instead of offering a form that would be refused.
func TestProfileOfDirectoryAccount(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	u, err := s.Core.Store.CreateUser(model.User{Name: "carol", Source: model.SourceLDAP, CreatedAt: time.Now()}, false)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := s.Core.Accounts.Sessions(account.SessionLimits{}).Start(account.Principal{User: u}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/profile", nil)
	req.AddCookie(&http.Cookie{Name: account.SessionCookie, Value: secret})
	resp, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /profile: %d", resp.StatusCode)
	}
	page := string(body)
	if !strings.Contains(page, "change it there") || strings.Contains(page, `name="current_password"`) {
		t.Fatal("the profile of a directory account offers the local password form")
	}
}
