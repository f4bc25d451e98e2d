package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
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

// tokenRequest is what a client asks the token endpoint, by GET or POST.
type tokenRequest struct {
	service, account string
	scopes           []string
	// name and secret are the credentials (HTTP Basic, or the password
	// grant's username and password); hasCredentials says they were sent.
	name, secret   string
	hasCredentials bool
	// offline asks for a refresh token (offline_token=true,
	// access_type=offline): a password login then gets a login token.
	offline bool
	client  string // client_id, which names a login token
	// refresh is the refresh grant's token, which alone authenticates.
	refresh string
}

// registryToken answers GET /v2/token, the token endpoint of the Docker
// registry auth spec: HTTP Basic with a password or an application token,
// or no credentials for an anonymous token.
func (h *Handler) registryToken(c *gin.Context) {
	name, secret, hasCredentials := c.Request.BasicAuth()
	q := c.Request.URL.Query()
	h.issueRegistryToken(c, tokenRequest{
		service: q.Get("service"), scopes: q["scope"], account: q.Get("account"),
		name: name, secret: secret, hasCredentials: hasCredentials,
		offline: q.Get("offline_token") == "true", client: q.Get("client_id"),
	})
}

// registryTokenOAuth answers POST /v2/token, distribution's OAuth2 token
// endpoint: the password grant that containerd sends (grant_type=password,
// username, password, service, client_id and a space-separated scope) and
// the refresh grant that docker, containerd and buildkit send with an
// identity token (grant_type=refresh_token, refresh_token, no username).
func (h *Handler) registryTokenOAuth(c *gin.Context) {
	f, err := postForm(c.Request)
	if err != nil {
		registryError(c, http.StatusBadRequest, "malformed form body")
		return
	}
	req := tokenRequest{service: f.Get("service"), scopes: f["scope"], client: f.Get("client_id")}
	switch f.Get("grant_type") {
	case "password":
		req.name, req.secret = f.Get("username"), f.Get("password")
		req.hasCredentials = req.name != "" || req.secret != ""
		req.offline = f.Get("access_type") == "offline"
	case "refresh_token":
		if req.refresh = f.Get("refresh_token"); req.refresh == "" {
			registryError(c, http.StatusBadRequest, "refresh_token: required with grant_type=refresh_token; send the identity token docker login saved")
			return
		}
	case "":
		registryError(c, http.StatusBadRequest, `grant_type: must be "password" or "refresh_token"`)
		return
	default:
		registryError(c, http.StatusBadRequest, `grant_type: only "password" and "refresh_token" are supported; send the password, an application token or an identity token`)
		return
	}
	h.issueRegistryToken(c, req)
}

// postForm is Request.PostForm without ParseForm's extra work: every
// docker pull sends a refresh grant, which should cost what the GET path
// costs. ParseForm also parses and copies the URL query into Form and
// wraps the body twice; the refresh grant needs only the body's fields.
// Like ParseForm, a body that is not form-encoded has no fields, and a
// malformed Content-Type, a bad encoding or a body over maxBodyBytes is
// an error.
func postForm(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if ct != formType {
		if ct == "" {
			return url.Values{}, nil
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, fmt.Errorf("parsing the Content-Type: %w", err)
		}
		if mt != formType {
			return url.Values{}, nil
		}
	}
	if r.Body == nil {
		return url.Values{}, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the form body: %w", err)
	}
	if len(b) > maxBodyBytes {
		return nil, fmt.Errorf("form body larger than %d bytes", maxBodyBytes)
	}
	return url.ParseQuery(string(b))
}

const formType = "application/x-www-form-urlencoded"

func (h *Handler) issueRegistryToken(c *gin.Context, req tokenRequest) {
	r := h.Registry
	if !r.knows(req.service) {
		registryError(c, http.StatusBadRequest, "unknown service "+quote(req.service)+"; this server issues tokens for: "+strings.Join(r.Services, ", "))
		return
	}
	scopes, err := registryauth.ParseScopes(req.scopes)
	if err != nil {
		registryError(c, http.StatusBadRequest, err.Error())
		return
	}
	sub, refresh, ok := h.registrySubject(c, req)
	if !ok {
		return
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	token, err := r.Issuer.Issue(sub.Name, req.service, r.Policy.Grant(sub, scopes), now)
	if err != nil {
		h.Log.Error("signing a registry token", "err", err)
		registryError(c, http.StatusInternalServerError, "could not sign the token; the server log has the details")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, apitypes.RegistryToken{
		Token: token, AccessToken: token,
		ExpiresIn:    r.Issuer.ExpiresIn(),
		IssuedAt:     now.UTC().Format(time.RFC3339),
		RefreshToken: refresh,
	})
}

// registrySubject authenticates req (nobody: anonymous) and returns who
// the JWT is for and the refresh token to answer with: the refresh
// grant's own, or a new login token for a password login that asked for
// one. It has answered the client when ok is false.
func (h *Handler) registrySubject(c *gin.Context, req tokenRequest) (sub registryauth.Subject, refresh string, ok bool) {
	var (
		p   account.Principal
		err error
	)
	switch {
	case req.refresh != "":
		p, err = h.Accounts.AuthenticateBearer(req.refresh, c.ClientIP())
		refresh = req.refresh
	case req.hasCredentials:
		p, err = h.Accounts.AuthenticateRegistry(req.name, req.secret, c.ClientIP())
	default:
		return sub, "", req.account == "" || badAccount(c, req.account)
	}
	if err != nil {
		h.registryAuthFailed(c, err)
		return sub, "", false
	}
	h.Accounts.NoteClient(p, c.Request.UserAgent())
	sub = registryauth.Subject{Name: p.User.Name, Admin: p.User.Admin}
	if p.Token != nil {
		sub.TokenScope = p.Token.Scope
	}
	if req.account != "" && req.account != sub.Name {
		return sub, "", badAccount(c, req.account)
	}
	// A client that logged in with a token already keeps a token.
	if req.offline && p.Token == nil {
		created, err := h.Accounts.CreateLoginToken(p.Actor(c.ClientIP()), p.User.Name, req.client)
		if errors.Is(err, account.ErrNotFound) {
			err = account.ErrAuthFailed // removed since it signed in
		}
		if err != nil {
			h.registryAuthFailed(c, err)
			return sub, "", false
		}
		refresh = created.Token
	}
	return sub, refresh, true
}

// badAccount refuses an account parameter that is not the signed-in user
// and returns false.
func badAccount(c *gin.Context, name string) bool {
	registryError(c, http.StatusBadRequest, "account "+quote(name)+" does not match the signed-in user")
	return false
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
