package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portusproject/portus/internal/testutil/oidcprovider"
)

// ssoCallbackWithIDToken starts an SSO sign-in of gina in b and returns
// the callback path for Portus' code, with the provider set to answer
// that code with an ID token it signed for clientID (and this sign-in's
// nonce) instead of Portus' own.
func ssoCallbackWithIDToken(t *testing.T, b *browser, prov *oidcprovider.Provider, clientID, secret string) string {
	t.Helper()
	start := b.get("/signin/oidc")
	raw := idTokenFor(t, prov, start.Location(), clientID, secret)
	cb, err := prov.SignIn(&http.Client{}, start.Location(), "gina", "gina-idp-pw")
	if err != nil {
		t.Fatal(err)
	}
	prov.Tamper(oidcprovider.Tamper{IDToken: raw})
	return strings.TrimPrefix(cb, b.base)
}

// idTokenFor signs gina in at the provider for clientID, reusing Portus'
// authorization request authURL (so the same nonce and redirect URI)
// without its PKCE challenge, redeems the code with clientID's secret at
// the provider's token endpoint, and returns the ID token, checked to be
// for clientID alone.
func idTokenFor(t *testing.T, prov *oidcprovider.Provider, authURL, clientID, secret string) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("client_id", clientID)
	q.Del("code_challenge")
	q.Del("code_challenge_method")
	u.RawQuery = q.Encode()
	cb, err := prov.SignIn(&http.Client{}, u.String(), "gina", "gina-idp-pw")
	if err != nil {
		t.Fatal(err)
	}
	back, _ := url.Parse(cb)
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, prov.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: q.Get("redirect_uri")}
	tok, err := conf.Exchange(ctx, back.Query().Get("code"))
	if err != nil {
		t.Fatalf("redeeming %s's code: %v", clientID, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if aud := audience(t, raw); !slices.Equal(aud, []string{clientID}) {
		t.Fatalf("the ID token for %s has audience %v", clientID, aud)
	}
	return raw
}

// audience reads the aud claim of a JWT without verifying it.
func audience(t *testing.T, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"` // a string or a list of them
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	var one string
	if json.Unmarshal(claims.Aud, &one) == nil {
		return []string{one}
	}
	var aud []string
	if err := json.Unmarshal(claims.Aud, &aud); err != nil {
		t.Fatalf("aud claim %s: %v", claims.Aud, err)
	}
	return aud
}
