package web

import (
	"net/url"
	"strings"
)

// nextField carries, through the sign-in form, the page someone was on
// their way to when they were sent to sign in.
const nextField = "next"

// maxNextLen bounds the return path: longer ones are dropped, not cut.
const maxNextLen = 1024

// safeNext returns the page to go to after signing in: next if it is a
// path on this server, else "/profile". It is never an open redirect: a
// scheme, a host, a protocol-relative "//host" or "/\host" (which browsers
// read as //host), control characters and the sign-in pages themselves
// are refused, and only the path and query are kept.
func safeNext(next string) string {
	const fallback = "/profile"
	if next == "" || len(next) > maxNextLen || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\") {
		return fallback
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return fallback
	}
	switch u.Path {
	case "/signin", "/signup", "/signout":
		return fallback
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}
