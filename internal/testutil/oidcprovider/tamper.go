package oidcprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Tamper changes the next token response the provider sends. The op always
// puts the client that redeems a code in the ID token's audience, so a
// token for another client cannot be signed for Portus' code; IDToken
// instead replaces the whole ID token with one obtained by a real sign-in
// of OtherClientID (see the web tests).
type Tamper struct {
	Nonce   string // if set, the nonce claim
	Expired bool   // if set, the ID token expired an hour before it was signed
	// IDToken, if set, is sent instead of the ID token the op signed.
	IDToken string
}

// Tamper makes the provider's next token response carry tm's values.
func (p *Provider) Tamper(tm Tamper) {
	p.st.mu.Lock()
	p.st.tamper = &tm
	p.st.mu.Unlock()
}

type tamperKey struct{}

// tamperTokens hands a pending Tamper to the next request at the token
// endpoint: in its context for the storage (nonce, expiry), and by
// rewriting its response (IDToken).
func (s *storage) tamperTokens(next http.Handler) http.Handler {
	token := op.DefaultEndpoints.Token.Relative()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != token {
			next.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		tm := s.tamper
		s.tamper = nil
		s.mu.Unlock()
		if tm == nil {
			next.ServeHTTP(w, r)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), tamperKey{}, tm))
		if tm.IDToken == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var resp map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &resp) == nil {
			resp["id_token"] = tm.IDToken
			body, _ = json.Marshal(resp)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		bytes.NewReader(body).WriteTo(w)
	})
}

// AuthRequestByCode applies the Tamper of this token request to the
// request whose code is being redeemed: the ID token is made from it.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	tm, _ := ctx.Value(tamperKey{}).(*Tamper)
	if tm == nil {
		return r, nil
	}
	return tampered{r, *tm}, nil
}

type tampered struct {
	op.AuthRequest
	tm Tamper
}

func (t tampered) GetNonce() string {
	if t.tm.Nonce != "" {
		return t.tm.Nonce
	}
	return t.AuthRequest.GetNonce()
}
