package web

import "testing"

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "/profile",
		"/activity":                   "/activity",
		"/activity?user=bob&before=9": "/activity?user=bob&before=9",
		"/admin/users/bob":            "/admin/users/bob",
		"/profile#tokens":             "/profile",
		"/activity#x":                 "/activity",
		"https://evil.example/":       "/profile",
		"//evil.example/":             "/profile",
		"/\\evil.example/":            "/profile",
		"\\\\evil.example":            "/profile",
		"/%2F/evil.example":           "/%2F/evil.example", // a path on this server, not a host
		"http:/evil.example":          "/profile",
		"javascript:alert(1)":         "/profile",
		"activity":                    "/profile",
		"/\tx":                        "/profile",
		"/a\r\nLocation: //evil":      "/profile",
		"/signin":                     "/profile",
		"/signout":                    "/profile",
		"/signin?next=//evil":         "/profile",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
	long := "/" + string(make([]byte, maxNextLen))
	if got := safeNext(long); got != "/profile" {
		t.Errorf("a path over %d bytes = %q", maxNextLen, got)
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/activity", "//x", "/\\x", "https://x", "/%5cx", "/a?b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeNext(in)
		if len(got) < 1 || got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("safeNext(%q) = %q: not a path on this server", in, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r == '\\' {
				t.Fatalf("safeNext(%q) = %q has %q", in, got, r)
			}
		}
	})
}
