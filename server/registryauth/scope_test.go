package registryauth

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name string
		raw  []string
		want []Scope
	}{
		{"nothing", nil, nil},
		{"empty strings", []string{"", "", "   "}, nil},
		{"one", []string{"repository:alice/app:pull,push"},
			[]Scope{{"repository", "alice/app", []string{"pull", "push"}}}},
		{"canonical order", []string{"repository:alice/app:*,delete,push,pull"},
			[]Scope{{"repository", "alice/app", []string{"pull", "push", "delete", "*"}}}},
		{"repeated parameters", []string{"repository:a:pull", "repository:b:push"},
			[]Scope{{"repository", "a", []string{"pull"}}, {"repository", "b", []string{"push"}}}},
		{"space separated", []string{"repository:a:pull repository:b:push  registry:catalog:*"},
			[]Scope{{"repository", "a", []string{"pull"}}, {"repository", "b", []string{"push"}}, {"registry", "catalog", []string{"*"}}}},
		{"merged, first position kept", []string{"repository:a:push repository:b:pull", "repository:a:pull"},
			[]Scope{{"repository", "a", []string{"pull", "push"}}, {"repository", "b", []string{"pull"}}}},
		{"duplicate actions", []string{"repository:a:pull,pull", "repository:a:pull"},
			[]Scope{{"repository", "a", []string{"pull"}}}},
		{"unknown actions kept after known", []string{"repository:a:frob,pull,frob,zap", "repository:a:push"},
			[]Scope{{"repository", "a", []string{"pull", "push", "frob", "zap"}}}},
		{"empty action elements", []string{"repository:a:,pull,,"},
			[]Scope{{"repository", "a", []string{"pull"}}}},
		{"class dropped and merged", []string{"repository(plugin):a/b:pull repository:a/b:push"},
			[]Scope{{"repository", "a/b", []string{"pull", "push"}}}},
		{"catalog merged", []string{"registry:catalog:*", "registry:catalog:*"},
			[]Scope{{"registry", "catalog", []string{"*"}}}},
		{"separators", []string{"repository:a.b_c__d---e/f-g/0:pull"},
			[]Scope{{"repository", "a.b_c__d---e/f-g/0", []string{"pull"}}}},
		{"deep name", []string{"repository:alice/x/y/z:pull"},
			[]Scope{{"repository", "alice/x/y/z", []string{"pull"}}}},
		{"longest name", []string{"repository:" + strings.Repeat("a", 255) + ":pull"},
			[]Scope{{"repository", strings.Repeat("a", 255), []string{"pull"}}}},
		{"100 distinct", manyScopes(100, 1), nil}, // checked by length below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScopes(tt.raw)
			if err != nil {
				t.Fatalf("ParseScopes(%q): %v", tt.raw, err)
			}
			if tt.name == "100 distinct" {
				if len(got) != 100 {
					t.Fatalf("got %d scopes, want 100", len(got))
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseScopes(%q)\n got %v\nwant %v", tt.raw, got, tt.want)
			}
		})
	}
}

// manyScopes returns n distinct scopes, each repeated rep times, space-separated.
func manyScopes(n, rep int) []string {
	var b strings.Builder
	for r := 0; r < rep; r++ {
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "repository:u/r%d:pull ", i)
		}
	}
	return []string{b.String()}
}

func TestParseScopesMalformed(t *testing.T) {
	long := "repository:" + strings.Repeat("a", 256) + ":pull"
	tests := []struct {
		name   string
		raw    []string
		reason string // part of the error
	}{
		{"no colon", []string{"repository"}, "type:name:actions"},
		{"two parts", []string{"repository:foo"}, "type:name:actions"},
		{"unknown type", []string{"image:foo:pull"}, "unknown resource type"},
		{"empty type", []string{":foo:pull"}, "unknown resource type"},
		{"uppercase type", []string{"Repository:foo:pull"}, "unknown resource type"},
		{"registry with class", []string{"registry(x):catalog:*"}, "unknown resource type"},
		{"empty class", []string{"repository():foo:pull"}, "unknown resource type"},
		{"bad class", []string{"repository(a-b):foo:pull"}, "unknown resource type"},
		{"empty name", []string{"repository::pull"}, "empty resource name"},
		{"empty actions", []string{"repository:foo:"}, "no actions"},
		{"only commas", []string{"repository:foo:,,"}, "no actions"},
		{"port in name", []string{"repository:localhost:5000/foo:pull"}, "invalid repository name"},
		{"two action parts", []string{"repository:foo:pull:push"}, "invalid repository name"},
		{"uppercase name", []string{"repository:Alice/app:pull"}, "invalid repository name"},
		{"leading slash", []string{"repository:/app:pull"}, "invalid repository name"},
		{"trailing slash", []string{"repository:app/:pull"}, "invalid repository name"},
		{"double slash", []string{"repository:a//b:pull"}, "invalid repository name"},
		{"leading separator", []string{"repository:-a:pull"}, "invalid repository name"},
		{"trailing separator", []string{"repository:a.:pull"}, "invalid repository name"},
		{"triple underscore", []string{"repository:a___b:pull"}, "invalid repository name"},
		{"double dot", []string{"repository:a..b:pull"}, "invalid repository name"},
		{"dot dash", []string{"repository:a.-b:pull"}, "invalid repository name"},
		{"dot dot path", []string{"repository:alice/../bob:pull"}, "invalid repository name"},
		{"tag in name", []string{"repository:a@sha256:pull"}, "invalid repository name"},
		{"name too long", []string{long}, "invalid repository name"},
		{"tab inside", []string{"repository:a\tb:pull"}, "invalid repository name"},
		{"registry other name", []string{"registry:users:*"}, `only registry resource is "catalog"`},
		{"registry pull", []string{"registry:catalog:pull"}, `only the action "*"`},
		{"registry merged pull", []string{"registry:catalog:*", "registry:catalog:pull"}, `only the action "*"`},
		{"one bad among good", []string{"repository:a:pull", "repository:b:pull nonsense"}, "type:name:actions"},
		{"too many scopes", manyScopes(101, 1), "too many scopes"},
		{"1000 scopes", manyScopes(1000, 1), "too many scopes"},
		{"too many unknown actions", []string{"repository:a:" + actionList(17)}, "too many unknown actions"},
		{"too long", []string{strings.Repeat("repository:a:pull ", MaxScopeInput/18+1)}, "longer than"},
		{"too long in total", []string{strings.Repeat("x", MaxScopeInput/2), strings.Repeat("x", MaxScopeInput/2+1)}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScopes(tt.raw)
			if err == nil {
				t.Fatalf("ParseScopes accepted it: %v", got)
			}
			var se *ScopeError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *ScopeError", err, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not mention %q", err, tt.reason)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message is %d bytes long: %q", len(err.Error()), err)
			}
		})
	}
}

func actionList(n int) string {
	a := make([]string, n)
	for i := range a {
		a[i] = fmt.Sprintf("x%d", i)
	}
	return strings.Join(a, ",")
}

func TestScopeErrorMessage(t *testing.T) {
	e := &ScopeError{Scope: "repository:" + strings.Repeat("é", 200) + ":pull", Reason: "invalid repository name"}
	msg := e.Error()
	if !strings.HasPrefix(msg, `invalid scope "repository:é`) || !strings.HasSuffix(msg, `...": invalid repository name`) {
		t.Errorf("message %q", msg)
	}
	if strings.Contains(msg, `\x`) {
		t.Errorf("truncation split a rune: %q", msg)
	}
	if got := (&ScopeError{Reason: "too long"}).Error(); got != "invalid scope: too long" {
		t.Errorf("message %q", got)
	}
}

// TestParseScopesLinear checks that the bounded worst cases stay fast: the
// largest accepted input, made of one scope repeated, and one with the most
// distinct scopes. A quadratic merge would take seconds here.
func TestParseScopesLinear(t *testing.T) {
	inputs := [][]string{
		{strings.Repeat("repository:a:pull ", MaxScopeInput/18)},
		{strings.Repeat("repository:a:"+actionList(16)+" ", MaxScopeInput/80)},
		manyScopes(100, MaxScopeInput/2400),
		{strings.Repeat(",", MaxScopeInput-20) + "repository:a:pull"},
	}
	for i, raw := range inputs {
		if n := len(raw[0]); n > MaxScopeInput {
			t.Fatalf("input %d is %d bytes, over the limit", i, n)
		}
		start := time.Now()
		for k := 0; k < 10; k++ {
			_, _ = ParseScopes(raw)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("input %d: 10 parses took %v", i, d)
		}
	}
}

func TestValidRepositoryName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "a/b": true, "a-b": true, "a--b": true, "a_b": true, "a__b": true, "a.b": true,
		"library/busybox": true, "0/1/2": true,
		"": false, "A": false, "a/": false, "/a": false, "a_-b": false, "a._b": false,
		"a b": false, "a:b": false, "ä": false, strings.Repeat("a/", 127) + "a": true,
		strings.Repeat("a/", 127) + "ab": false,
	} {
		if got := ValidRepositoryName(name); got != want {
			t.Errorf("ValidRepositoryName(%q) = %v, want %v", name, got, want)
		}
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, seed := range []string{
		"",
		"repository:alice/app:pull,push",
		"repository:a:pull repository:b:push registry:catalog:*",
		"repository(plugin):a/b:pull repository:a/b:*",
		"repository:a:frob,pull,,push",
		"registry:catalog:pull",
		"repository:localhost:5000/foo:pull",
		"repository:a.b_c__d--e/f:delete",
		"repository::pull",
		"a:b:c:d",
		"repository:a:pull\trepository:b:pull",
	} {
		f.Add(seed, "repository:a:push")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		scopes, err := ParseScopes([]string{a, b})
		if err != nil {
			var se *ScopeError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *ScopeError", err)
			}
			if len(err.Error()) > 600 {
				t.Fatalf("error message of %d bytes", len(err.Error()))
			}
			return
		}
		if len(scopes) > MaxScopes {
			t.Fatalf("%d scopes", len(scopes))
		}
		type key struct{ typ, name string }
		seen := make(map[key]bool)
		for _, s := range scopes {
			if s.Type != TypeRepository && s.Type != TypeRegistry {
				t.Fatalf("unknown type in %v", s)
			}
			if s.Name == "" || len(s.Actions) == 0 {
				t.Fatalf("empty name or actions in %#v", s)
			}
			if s.Type == TypeRepository && !ValidRepositoryName(s.Name) {
				t.Fatalf("invalid name in %v", s)
			}
			if s.Type == TypeRegistry && (s.Name != CatalogName || !reflect.DeepEqual(s.Actions, []string{"*"})) {
				t.Fatalf("bad registry scope %v", s)
			}
			k := key{s.Type, s.Name}
			if seen[k] {
				t.Fatalf("pair %v appears twice in %v", k, scopes)
			}
			seen[k] = true
			actions := make(map[string]bool)
			for _, act := range s.Actions {
				if act == "" || actions[act] || strings.ContainsAny(act, ", ") {
					t.Fatalf("bad or repeated action %q in %v", act, s)
				}
				actions[act] = true
			}
			// Parsing the scope's own string form gives it back.
			again, err := ParseScopes([]string{s.String()})
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], s) {
				t.Fatalf("round trip of %v: %v, %v", s, again, err)
			}
		}
	})
}
