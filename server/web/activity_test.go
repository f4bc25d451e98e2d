package web_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/web"
	"github.com/portusproject/portus/shared/apitypes"
)

func TestActivityPages(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	s.AddUser("bob", "bob-password", false)
	s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "alices-token"})
	s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "bobs-token"})

	alice := newBrowser(t, s.URL)
	alice.signIn("alice", "alice-password")
	p := alice.get("/activity?user=bob") // the filter is for administrators
	if !strings.Contains(p.Body, "alices-token") || strings.Contains(p.Body, "bobs-token") {
		t.Errorf("alice's activity page shows what it should not, or misses her own:\n%s", p)
	}
	if strings.Contains(p.Body, `name="user"`) {
		t.Error("a normal user gets the user filter")
	}

	root := newBrowser(t, s.URL)
	root.signIn("root", "root-password")
	p = root.get("/activity")
	if !strings.Contains(p.Body, "alices-token") || !strings.Contains(p.Body, "bobs-token") || !strings.Contains(p.Body, `name="user"`) {
		t.Errorf("the administrator does not see everyone's activity with a filter:\n%s", p)
	}
	p = root.get("/activity?user=bob")
	if strings.Contains(p.Body, "alices-token") || !strings.Contains(p.Body, "bobs-token") || !strings.Contains(p.Body, `href="/activity.csv?user=bob"`) {
		t.Errorf("the filtered page:\n%s", p)
	}
	if p := root.get("/activity?before=x"); p.Status != http.StatusBadRequest {
		t.Errorf("bad page cursor = %s", p)
	}
}

func TestActivityPaging(t *testing.T) {
	s := start(t, testserver.Options{MaxTokens: 100})
	s.AddUser("alice", "alice-password", false)
	for i := range 60 {
		s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "t" + string(rune('a'+i/26)) + string(rune('a'+i%26))})
	}
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	p := b.get("/activity")
	next := regexpFind(t, p.Body, `href="(/activity\?before=[0-9]+)" rel="next"`)
	older := b.get(strings.ReplaceAll(next, "&amp;", "&"))
	if older.Status != http.StatusOK || !strings.Contains(older.Body, "taa") {
		t.Errorf("the older page does not reach the first entries:\n%s", older)
	}
}

func TestActivityCSVExport(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	const tricky = `=HYPERLINK("http://evil.example","x"),"quoted" ; @SUM(1)`
	s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: tricky})
	s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "plain, with comma"})

	alice := newBrowser(t, s.URL)
	alice.signIn("alice", "alice-password")
	p := alice.get("/activity.csv")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /activity.csv = %s", p)
	}
	if ct := p.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="portus-activity-alice-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Error("the export may be cached")
	}
	rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not valid CSV: %v\n%s", err, p.Body)
	}
	if strings.Join(rows[0], ",") != "id,time,action,actor,subject,token_name,client_ip,detail" {
		t.Errorf("header row = %v", rows[0])
	}
	names := map[string]bool{}
	for _, r := range rows[1:] {
		if len(r) != 8 {
			t.Fatalf("row with %d fields: %v", len(r), r)
		}
		if r[4] != "alice" && r[3] != "alice" {
			t.Errorf("alice's export has someone else's row: %v", r)
		}
		names[r[5]] = true
	}
	if !names["'"+tricky] {
		t.Errorf("the formula-like token name is not defused with a quote; names: %v", names)
	}
	if !names["plain, with comma"] {
		t.Errorf("a name with a comma did not survive the round trip; names: %v", names)
	}

	root := newBrowser(t, s.URL)
	root.signIn("root", "root-password")
	all, _ := csv.NewReader(strings.NewReader(root.get("/activity.csv").Body)).ReadAll()
	mine, _ := csv.NewReader(strings.NewReader(root.get("/activity.csv?user=root").Body)).ReadAll()
	if len(all) <= len(mine) || len(mine) < 2 {
		t.Errorf("admin export: %d rows for everyone, %d for root", len(all), len(mine))
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"alice":        "alice",
		"=1+1":         "'=1+1",
		"+1":           "'+1",
		"-1":           "'-1",
		"@SUM(A1)":     "'@SUM(A1)",
		"\tx":          "'\tx",
		"a=b":          "a=b",
		"token.create": "token.create",
	} {
		if got := web.CSVCell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActivityActionFilterAndNames(t *testing.T) {
	s := start(t, testserver.Options{MaxTokens: 100})
	s.AddUser("alice", "alice-password", false)
	for i := range 60 {
		s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: fmt.Sprintf("t%02d", i)})
	}
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	p := b.get("/activity")
	if !strings.Contains(p.text(), "Created token 't59'") || !strings.Contains(p.text(), "s ago") {
		t.Errorf("no readable action or relative time:\n%s", p.text())
	}
	// The sign-in is older than 50 token entries, yet the filtered page
	// finds it.
	p = b.get("/activity?action=session.")
	if strings.Count(p.Body, `data-action="session.start"`) != 1 || strings.Contains(p.Body, `data-action="token.create"`) {
		t.Errorf("filtered by sign-ins:\n%s", p)
	}
	if !strings.Contains(p.Body, `<option value="session." selected>`) {
		t.Error("the filter does not show its choice")
	}
	p = b.get("/activity?action=token.")
	if n := strings.Count(p.Body, `data-action="token.create"`); n != 50 {
		t.Errorf("a page of token entries has %d rows, want 50", n)
	}
	next := regexpFind(t, p.Body, `href="(/activity\?[^"]+)" rel="next"`)
	if !strings.Contains(next, "action=token.") {
		t.Errorf("the older page's link %q loses the filter", next)
	}
	if p := b.get("/activity?action=bogus"); p.Status != http.StatusOK || !strings.Contains(p.Body, `data-action="session.start"`) {
		t.Errorf("an unknown filter is not ignored: %s", p)
	}
}
