package oidcprovider

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SignIn signs name in on the provider's login form over HTTP, as a
// browser would: it follows authURL (where the relying party sent the
// browser) to the login page, submits the form and returns the URL the
// provider then sends the browser to (redirectURI?code=…&state=…),
// without following it. hc carries the browser's cookies, if any.
func (p *Provider) SignIn(hc *http.Client, authURL, name, password string) (string, error) {
	redirect := p.redirectURI()
	c := *hc
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(authURL)
	if err != nil {
		return "", fmt.Errorf("opening the provider's login page: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || id == "" {
		return "", fmt.Errorf("the provider answered %s at %s, not its login page", resp.Status, resp.Request.URL.Path)
	}
	login := p.Issuer + "/login/username"
	resp, err = c.PostForm(login, url.Values{"id": {id}, "username": {name}, "password": {password}})
	if err != nil {
		return "", fmt.Errorf("submitting the login form: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, redirect) {
		if strings.Contains(string(body), "wrong") {
			return "", errors.New("the provider refused the username or password")
		}
		return "", fmt.Errorf("the provider answered %s, not a redirect to %s", resp.Status, redirect)
	}
	return loc, nil
}
