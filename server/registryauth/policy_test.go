package registryauth

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// servePolicy is the policy that serve's defaults give (config.Defaults):
// users own their namespace, signed-in users pull top-level repositories,
// anonymous requests get nothing.
var servePolicy = Policy{UserNamespaces: true, AuthenticatedPullTopLevel: true}

func TestGrantDefaultPolicy(t *testing.T) {
	var (
		anonymous = Subject{}
		alice     = Subject{Name: "alice"}
		admin     = Subject{Name: "root", Admin: true}
		all       = "pull,push,delete"
	)
	with := func(s Subject, scope string) Subject { s.TokenScope = scope; return s }
	tests := []struct {
		name  string
		sub   Subject
		scope string // one scope, for ParseScopes
		want  []string
	}{
		{"admin everything", admin, "repository:bob/app:" + all, []string{"pull", "push", "delete"}},
		{"admin star", admin, "repository:bob/app:*", []string{"pull", "push", "delete"}},
		{"admin top level", admin, "repository:busybox:push", []string{"push"}},
		{"admin catalog", admin, "registry:catalog:*", []string{"*"}},
		{"admin pull token catalog", with(admin, "pull"), "registry:catalog:*", []string{"*"}},
		{"admin pull token", with(admin, "pull"), "repository:bob/app:*", []string{"pull"}},
		{"admin push token", with(admin, "push"), "repository:bob/app:" + all, []string{"pull", "push"}},
		{"admin delete token", with(admin, "delete"), "repository:bob/app:*", []string{"pull", "push", "delete"}},
		{"admin bad token scope", with(admin, "admin"), "repository:bob/app:pull", []string{}},
		{"admin bad token scope catalog", with(admin, "admin"), "registry:catalog:*", []string{}},
		{"anonymous admin flag ignored", Subject{Admin: true}, "registry:catalog:*", []string{}},

		{"owner", alice, "repository:alice/app:" + all, []string{"pull", "push", "delete"}},
		{"owner deep", alice, "repository:alice/team/x/app:push", []string{"push"}},
		{"owner star", alice, "repository:alice/app:*", []string{"pull", "push", "delete"}},
		{"owner unknown action dropped", alice, "repository:alice/app:pull,frob", []string{"pull"}},
		{"owner only unknown action", alice, "repository:alice/app:frob", []string{}},
		{"owner pull token", with(alice, "pull"), "repository:alice/app:" + all, []string{"pull"}},
		{"owner push token", with(alice, "push"), "repository:alice/app:" + all, []string{"pull", "push"}},
		{"owner delete token", with(alice, "delete"), "repository:alice/app:" + all, []string{"pull", "push", "delete"}},
		{"owner push token asks delete", with(alice, "push"), "repository:alice/app:delete", []string{}},
		{"not own name itself push", alice, "repository:alice:push", []string{}},
		{"own name itself is top level pull", alice, "repository:alice:pull,push", []string{"pull"}},
		{"prefix is not a namespace", alice, "repository:alicex/app:pull,push", []string{}},
		{"other namespace", alice, "repository:bob/app:" + all, []string{}},
		{"other namespace star", alice, "repository:bob/app:*", []string{}},
		{"user catalog", alice, "registry:catalog:*", []string{}},

		{"top-level pull", alice, "repository:busybox:pull,push", []string{"pull"}},
		{"top-level pull with pull token", with(alice, "pull"), "repository:busybox:pull", []string{"pull"}},
		{"top-level delete", alice, "repository:busybox:delete", []string{}},

		{"anonymous top level", anonymous, "repository:busybox:pull", []string{}},
		{"anonymous namespace", anonymous, "repository:alice/app:pull", []string{}},
		{"anonymous catalog", anonymous, "registry:catalog:*", []string{}},
	}
	policy := servePolicy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scopes, err := ParseScopes([]string{tt.scope})
			if err != nil {
				t.Fatal(err)
			}
			got := policy.Grant(tt.sub, scopes)
			want := []Access{{Type: scopes[0].Type, Name: scopes[0].Name, Actions: tt.want}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Grant(%+v, %s) = %v, want %v", tt.sub, tt.scope, got, want)
			}
		})
	}
}

func TestGrantKeepsOrderAndEntries(t *testing.T) {
	scopes, err := ParseScopes([]string{"repository:bob/app:pull repository:alice/app:push registry:catalog:* repository:busybox:pull"})
	if err != nil {
		t.Fatal(err)
	}
	got := servePolicy.Grant(Subject{Name: "alice", TokenScope: "push"}, scopes)
	want := []Access{
		{"repository", "bob/app", []string{}},
		{"repository", "alice/app", []string{"push"}},
		{"registry", "catalog", []string{}},
		{"repository", "busybox", []string{"pull"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if got := servePolicy.Grant(Subject{Name: "alice"}, nil); got == nil || len(got) != 0 {
		t.Errorf("Grant of nothing = %#v, want an empty slice", got)
	}
}

func TestGrantConfigurable(t *testing.T) {
	p := Policy{AnonymousPull: []string{"library/*", "public"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sub   Subject
		scope string
		want  []string
	}{
		{Subject{}, "repository:library/busybox:pull,push", []string{"pull"}},
		{Subject{}, "repository:public:pull", []string{"pull"}},
		{Subject{}, "repository:library/a/b:pull", []string{}},
		{Subject{}, "repository:private:pull", []string{}},
		{Subject{Name: "alice"}, "repository:library/busybox:pull", []string{"pull"}},
		// Namespaces and top-level pull are off in this policy.
		{Subject{Name: "alice"}, "repository:alice/app:pull,push", []string{}},
		{Subject{Name: "alice"}, "repository:busybox:pull", []string{}},
		{Subject{Name: "root", Admin: true}, "repository:alice/app:push", []string{"push"}},
	}
	for _, tt := range tests {
		scopes, err := ParseScopes([]string{tt.scope})
		if err != nil {
			t.Fatal(err)
		}
		got := p.Grant(tt.sub, scopes)
		if !reflect.DeepEqual(got[0].Actions, tt.want) {
			t.Errorf("Grant(%+v, %s) = %v, want %v", tt.sub, tt.scope, got[0].Actions, tt.want)
		}
	}
	if err := (Policy{AnonymousPull: []string{"["}}).Validate(); err == nil {
		t.Error("Validate accepted a malformed pattern")
	}
}

// TestGrantDistrustsCallers covers scopes that ParseScopes would never
// produce, and user names that the account rules should never allow.
func TestGrantDistrustsCallers(t *testing.T) {
	p := servePolicy
	tests := []struct {
		sub   Subject
		scope Scope
	}{
		{Subject{Name: "alice"}, Scope{"repository", "alice/../bob/app", []string{"push"}}},
		{Subject{Name: "alice"}, Scope{"repository", "Alice/app", []string{"pull"}}},
		{Subject{Name: "alice/team"}, Scope{"repository", "alice/team/app", []string{"push"}}},
		{Subject{Name: "alice"}, Scope{"image", "alice/app", []string{"push"}}},
		{Subject{Name: "root", Admin: true}, Scope{"registry", "users", []string{"*"}}},
	}
	for _, tt := range tests {
		got := p.Grant(tt.sub, []Scope{tt.scope})
		if len(got) != 1 || len(got[0].Actions) != 0 || got[0].Actions == nil {
			t.Errorf("Grant(%+v, %v) = %#v, want one entry with no actions", tt.sub, tt.scope, got)
		}
	}
}

func TestAccessMarshalsEmptyActions(t *testing.T) {
	for _, a := range []Access{{Type: "repository", Name: "a"}, {Type: "repository", Name: "a", Actions: []string{}}} {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"type":"repository","name":"a","actions":[]}`; string(b) != want {
			t.Errorf("json.Marshal(%#v) = %s, want %s", a, b, want)
		}
	}
	b, err := json.Marshal([]Access{{Type: "repository", Name: "a/b", Actions: []string{"pull", "push"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"type":"repository","name":"a/b","actions":["pull","push"]}]`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back []Access
	if err := json.Unmarshal(b, &back); err != nil || back[0].Name != "a/b" || strings.Join(back[0].Actions, ",") != "pull,push" {
		t.Errorf("round trip: %v, %v", back, err)
	}
}
