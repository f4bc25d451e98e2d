package fakeportus

import (
	"net/http"
	"strings"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// rotateCurrent answers POST /api/v1/tokens/current/rotate (Basic
// username:token, or Bearer token): the same token with a new secret (201, as a
// creation), or 401 for an unknown token. Unlike the real server it keeps
// no grace: the old secret stops at once.
func (s *Server) rotateCurrent(w http.ResponseWriter, r *http.Request) {
	user, plain, ok := r.BasicAuth()
	if bearer, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); isBearer && bearer != "" {
		plain, ok = bearer, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, tok := range s.tokens {
		if !ok || (user != "" && tok.Owner != user) || tok.Plain != plain {
			continue
		}
		next, err := apptoken.New()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, apitypes.Error{Message: err.Error()})
			return
		}
		s.tokens[i].Plain = next
		s.rotations++
		writeJSON(w, http.StatusCreated, apitypes.CreatedToken{ID: tok.ID, Name: tok.Name, Scope: tok.Scope, CreatedAt: time.Now().UTC(), Token: next})
		return
	}
	writeJSON(w, http.StatusUnauthorized, apitypes.Error{Message: "authentication failed"})
}

// Rotations is how many rotations succeeded.
func (s *Server) Rotations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotations
}
