package fakeportus

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/portusproject/portus/shared/apitypes"
)

// IssueLoginToken creates a login token for user, as the server does when
// docker login asks for an offline token, and returns its plaintext: the
// identity token the CLI then hands the helper.
func (s *Server) IssueLoginToken(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(user, fmt.Sprintf("docker login %d", s.nextID+1), apitypes.ScopePush, apitypes.ViaDockerLogin).Plain
}

func (s *Server) revokeCurrent(w http.ResponseWriter, r *http.Request) {
	user, plain, basic := r.BasicAuth()
	bearer, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	switch {
	case basic:
		found = s.drop(func(tok Token) bool { return tok.Owner == user && tok.Plain == plain })
	case isBearer && bearer != "":
		found = s.drop(func(tok Token) bool { return tok.Plain == bearer })
	}
	if !found {
		writeJSON(w, http.StatusUnauthorized, apitypes.Error{Message: "authentication failed"})
		return
	}
	s.revokes++
	w.WriteHeader(http.StatusNoContent)
}

// caller answers GET /api/v1/user for a Bearer token: its owner.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tok := range s.tokens {
		if ok && bearer != "" && tok.Plain == bearer {
			writeJSON(w, http.StatusOK, apitypes.User{Name: tok.Owner})
			return
		}
	}
	writeJSON(w, http.StatusUnauthorized, apitypes.Error{Message: "authentication failed"})
}
