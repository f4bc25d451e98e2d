package userimport

import (
	"strings"
	"testing"
)

func TestParseHtpasswd(t *testing.T) {
	in := strings.Join([]string{
		"# users of the old registry",
		"alice:$2y$05$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRSTU",
		"",
		"bob:$apr1$salt$hash",
		"no colon here",
		"alice:$2y$05$second-entry-for-alice",
		"carol:$2b$10$carolshash\r",
	}, "\n")
	f, err := ParseHtpasswd(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range f.Users {
		names = append(names, u.Name)
	}
	// Non-bcrypt hashes are the caller's to refuse; the parser keeps them.
	if got := strings.Join(names, ","); got != "alice,bob,carol" {
		t.Errorf("users %q, want alice,bob,carol", got)
	}
	if f.Users[0].Line != 2 || f.Users[2].Hash != "$2b$10$carolshash" {
		t.Errorf("lines or hashes: %+v", f.Users)
	}
	if len(f.Refused) != 2 || f.Refused[0].Line != 5 || f.Refused[1].Line != 6 || !strings.Contains(f.Refused[1].Reason, "line 2") {
		t.Errorf("refused %+v, want line 5 (no colon) and line 6 (alice again, line 2 counts)", f.Refused)
	}
}

func TestParseDockerAuth(t *testing.T) {
	in := `server:
  addr: ":5001"
users:
  "admin":
    password: "$2y$05$adminhash"
  "": {}
  "test":
    password: "$2y$05$testhash"
  "nopass": {}
acl:
  - match: {account: "admin"}
    actions: ["*"]
    comment: "Admin has full access to everything."
  - match: {account: "test", name: "test-*"}
    actions: ["pull"]
`
	f, err := ParseDockerAuth([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Users) != 2 || f.Users[0].Name != "admin" || f.Users[1].Hash != "$2y$05$testhash" || f.Users[0].Line != 5 {
		t.Errorf("users %+v", f.Users)
	}
	if len(f.Refused) != 2 || f.Refused[0].Name != "" || f.Refused[1].Name != "nopass" {
		t.Errorf("refused %+v, want the anonymous user and nopass", f.Refused)
	}
	if len(f.ACL) != 2 || f.ACL[1].Match["name"] != "test-*" || f.ACL[0].Actions[0] != "*" {
		t.Errorf("acl %+v", f.ACL)
	}
	for _, bad := range []string{"- just a list", "server: {}", "users: [a, b]"} {
		if _, err := ParseDockerAuth([]byte(bad)); err == nil {
			t.Errorf("ParseDockerAuth(%q) accepted it", bad)
		}
	}
}
