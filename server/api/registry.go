package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/shared/apitypes"
)

// Registry holds what the Docker registry token endpoint needs.
type Registry struct {
	Issuer   *registryauth.Issuer
	Policy   registryauth.Policy
	Services []string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// registryToken answers GET /v2/token, the token endpoint of the Docker
// registry auth spec: HTTP Basic with a password or an application token,
// or no credentials for an anonymous token.
func (h *Handler) registryToken(c *gin.Context) {
	name, secret, hasCredentials := c.Request.BasicAuth()
	q := c.Request.URL.Query()
	h.issueRegistryToken(c, q.Get("service"), q["scope"], q.Get("account"), name, secret, hasCredentials)
}

// registryTokenOAuth answers POST /v2/token, the OAuth2 password grant that
// containerd sends: grant_type=password, username, password, service,
// client_id and a space-separated scope.
func (h *Handler) registryTokenOAuth(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	if err := c.Request.ParseForm(); err != nil {
		registryError(c, http.StatusBadRequest, "malformed form body")
		return
	}
	f := c.Request.PostForm
	switch f.Get("grant_type") {
	case "password":
	case "":
		registryError(c, http.StatusBadRequest, "grant_type: must be \"password\"")
		return
	default:
		registryError(c, http.StatusBadRequest, "grant_type: only \"password\" is supported; send the password or an application token")
		return
	}
	name, secret := f.Get("username"), f.Get("password")
	h.issueRegistryToken(c, f.Get("service"), f["scope"], "", name, secret, name != "" || secret != "")
}

func (h *Handler) issueRegistryToken(c *gin.Context, service string, rawScopes []string, accountName, name, secret string, hasCredentials bool) {
	r := h.Registry
	if !r.knows(service) {
		registryError(c, http.StatusBadRequest, "unknown service "+quote(service)+"; this server issues tokens for: "+strings.Join(r.Services, ", "))
		return
	}
	scopes, err := registryauth.ParseScopes(rawScopes)
	if err != nil {
		registryError(c, http.StatusBadRequest, err.Error())
		return
	}
	var sub registryauth.Subject
	if hasCredentials {
		p, err := h.Accounts.AuthenticateRegistry(name, secret, c.ClientIP())
		if err != nil {
			h.registryAuthFailed(c, err)
			return
		}
		sub = registryauth.Subject{Name: p.User.Name, Admin: p.User.Admin}
		if p.Token != nil {
			sub.TokenScope = p.Token.Scope
		}
	}
	if accountName != "" && accountName != sub.Name {
		registryError(c, http.StatusBadRequest, "account "+quote(accountName)+" does not match the signed-in user")
		return
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	token, err := r.Issuer.Issue(sub.Name, service, r.Policy.Grant(sub, scopes), now)
	if err != nil {
		h.Log.Error("signing a registry token", "err", err)
		registryError(c, http.StatusInternalServerError, "could not sign the token; the server log has the details")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, apitypes.RegistryToken{
		Token: token, AccessToken: token,
		ExpiresIn: r.Issuer.ExpiresIn(),
		IssuedAt:  now.UTC().Format(time.RFC3339),
	})
}

func (h *Handler) registryAuthFailed(c *gin.Context, err error) {
	var (
		throttled      *account.ThrottledError
		tokensRequired *account.TokensRequiredError
	)
	switch {
	case errors.Is(err, account.ErrAuthFailed):
		c.Header("WWW-Authenticate", `Basic realm="portus"`)
		registryError(c, http.StatusUnauthorized, "authentication failed: use your username with your password or an application token")
	case errors.As(err, &tokensRequired):
		// docker login prints "details": the user learns what to do.
		c.Header("WWW-Authenticate", `Basic realm="portus"`)
		registryError(c, http.StatusUnauthorized, tokensRequired.Error())
	case errors.Is(err, account.ErrDirectoryUnavailable):
		registryError(c, http.StatusServiceUnavailable, account.ErrDirectoryUnavailable.Error())
	case errors.As(err, &throttled):
		c.Header("Retry-After", strconv.Itoa(throttled.RetrySeconds()))
		registryError(c, http.StatusTooManyRequests, throttled.Error())
	default:
		h.fail(c, err)
	}
}

// registryError answers with a message that both our clients ("message")
// and the docker CLI ("details", which it prints) read.
func registryError(c *gin.Context, status int, message string) {
	c.AbortWithStatusJSON(status, gin.H{"message": message, "details": message})
}

func (r *Registry) knows(service string) bool {
	for _, s := range r.Services {
		if s == service {
			return true
		}
	}
	return false
}

// jwks answers GET /.well-known/jwks.json with the signing key as a JWKS,
// for clients that check tokens. A registry cannot use this URL: registry
// 3 reads its jwks from a file, once at start, which `portus
// registry-config --jwks FILE` writes.
func (h *Handler) jwks(c *gin.Context) {
	data, err := h.Registry.Issuer.CurrentSigner().JWKS()
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", data)
}

// quote quotes what a client sent for an error message, cut to about 100
// bytes on a character boundary, with control and other unprintable
// characters escaped: docker prints the message to a terminal, and a
// malicious registry chooses the service parameter that docker sends.
func quote(s string) string {
	if len(s) > 100 {
		n := 100
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}
