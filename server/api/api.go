// Package api serves the machine-facing HTTP surface of Portus: the JSON API
// under /api/v1 and the health check. Every route is in Routes; handlers
// parse the request, call package account and answer with JSON. Errors
// always have the body {"message": "..."}.
package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/httperr"
	"github.com/portusproject/portus/shared/apitypes"
)

// Handler holds what the handlers need.
type Handler struct {
	Accounts *account.Service
	// Sessions lets a signed-in browser use the API (with its CSRF token).
	Sessions *account.Sessions
	Registry *Registry
	// Metrics serves /metrics in the Prometheus format; nil: /metrics is
	// not on this listener (metrics.listen gave it its own).
	Metrics http.Handler
	// Backup writes a consistent copy of the database (admin socket only).
	Backup func(io.Writer) (int64, error)
	// SigningKeys rotates the token signing key (admin socket only).
	SigningKeys SigningKeys
	Log         *slog.Logger
	// PublicURL is this server as browsers reach it, for the device
	// grant's verification_uri.
	PublicURL string
}

// maxBodyBytes bounds JSON request bodies.
const maxBodyBytes = 64 << 10

// Routes registers the public listener's machine-facing routes.
func (h *Handler) Routes(r gin.IRouter) {
	r.GET("/healthz", health)
	if h.Metrics != nil {
		r.GET("/metrics", gin.WrapH(h.Metrics))
	}
	r.GET("/v2/token", h.registryToken)
	r.POST("/v2/token", h.registryTokenOAuth)
	r.GET("/.well-known/jwks.json", h.jwks)
	// The device authorization grant (device.go).
	r.POST(apitypes.DeviceCodePath, h.deviceCode)
	r.POST(apitypes.OAuthTokenPath, h.oauthToken)
	// Leak reports come from anyone, so before v1's authentication.
	r.POST(apitypes.RevokeLeakedPath, h.revokeLeaked)
	h.apiRoutes(r.Group("/api/v1", h.Authenticate))
}

// AdminRoutes registers the JSON API for the admin socket, where the caller
// is trusted as an administrator.
func (h *Handler) AdminRoutes(r gin.IRouter) {
	h.apiRoutes(r.Group("/api/v1", LocalAdmin))
	// Only on the socket: a copy of the database holds password hashes.
	r.GET("/admin/backup", h.backup)
	// Only on the socket: whoever sets a password hash knows the password.
	r.POST(apitypes.ImportUsersPath, LocalAdmin, h.importUsers)
	if h.SigningKeys != nil {
		h.signingKeyRoutes(r)
	}
}

// apiRoutes is the JSON API, the same on the public listener and the
// admin socket; only the authentication in front of v1 differs.
func (h *Handler) apiRoutes(v1 *gin.RouterGroup) {
	// What an application token may do: list the caller's tokens, revoke
	// or rotate itself, read the caller's activity.
	v1.GET("/tokens", h.listOwnTokens)
	v1.DELETE("/tokens/current", h.revokeCurrentToken)
	v1.POST("/tokens/current/rotate", h.rotateCurrentToken)
	v1.DELETE("/tokens/:id", h.revokeOwnToken)
	v1.GET("/activities", h.listActivities)
	// Who the caller is: a helper that holds only an identity token learns
	// its owner here (docker login reuses stored credentials only with a
	// username).
	v1.GET("/user", h.showCaller)

	// Everything else needs the password, a web session or the admin socket.
	pw := v1.Group("", requirePassword)
	pw.POST("/tokens", h.createOwnToken)
	pw.GET("/users/:name/tokens", requireSelfOrAdmin, h.listUserTokens)
	pw.POST("/users/:name/tokens", requireSelfOrAdmin, h.createUserToken)
	pw.DELETE("/users/:name/tokens/:id", requireSelfOrAdmin, h.revokeUserToken)
	pw.POST("/tokens/:id/rotate", h.rotateOwnToken)
	pw.POST("/users/:name/tokens/:id/rotate", requireSelfOrAdmin, h.rotateUserToken)

	admin := pw.Group("/users", requireAdmin)
	admin.GET("", h.listUsers)
	admin.POST("", h.createUser)
	admin.GET("/:name", h.showUser)
	admin.PATCH("/:name", h.updateUser)
	admin.PUT("/:name/password", h.setUserPassword)
	admin.POST("/:name/sso-link", h.linkUserSSO)
}

func health(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// principalKey is where the authenticated caller is kept in the context.
const principalKey = "portus.principal"

// SetPrincipal records the authenticated caller.
func SetPrincipal(c *gin.Context, p account.Principal) { c.Set(principalKey, p) }

// CurrentPrincipal returns the authenticated caller.
func CurrentPrincipal(c *gin.Context) (account.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return account.Principal{}, false
	}
	p, ok := v.(account.Principal)
	return p, ok
}

func principal(c *gin.Context) account.Principal {
	p, _ := CurrentPrincipal(c)
	return p
}

func actor(c *gin.Context) account.Actor { return principal(c).Actor(c.ClientIP()) }

// Authenticate is the middleware of the public listener: HTTP Basic with a
// password or an application token, the Portus-Auth header
// "username:token", or "Authorization: Bearer TOKEN" with a token alone
// (what a client holding only an identity token has).
func (h *Handler) Authenticate(c *gin.Context) {
	if token, ok := bearerToken(c.Request); ok {
		p, err := h.Accounts.AuthenticateBearer(token, c.ClientIP())
		if err != nil {
			h.fail(c, err)
			return
		}
		h.Accounts.NoteClient(p, c.Request.UserAgent())
		SetPrincipal(c, p)
		return
	}
	name, secret, ok, tokenOnly := Credentials(c.Request)
	if !ok {
		h.authenticateSession(c)
		return
	}
	var (
		p   account.Principal
		err error
	)
	if tokenOnly {
		p, err = h.Accounts.AuthenticateToken(name, secret, c.ClientIP())
	} else {
		p, err = h.Accounts.Authenticate(name, secret, c.ClientIP())
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.Accounts.NoteClient(p, c.Request.UserAgent())
	SetPrincipal(c, p)
}

// authenticateSession accepts the web session cookie, as the password would
// be, when the request also carries the session's CSRF token in the
// X-CSRF-Token header: a cross-site page can make the browser send the
// cookie, but cannot read the token nor set the header.
func (h *Handler) authenticateSession(c *gin.Context) {
	cookie, err := c.Cookie(account.SessionCookie)
	if err != nil || h.Sessions == nil {
		h.fail(c, account.ErrAuthFailed)
		return
	}
	p, sess, err := h.Sessions.Lookup(cookie)
	if err != nil {
		h.fail(c, account.ErrAuthFailed)
		return
	}
	header := c.GetHeader(account.CSRFHeader)
	if header == "" || subtle.ConstantTimeCompare([]byte(header), []byte(sess.CSRFToken)) != 1 {
		abort(c, http.StatusForbidden, "a web session needs its CSRF token in the "+account.CSRFHeader+" header; scripts should use HTTP Basic with a password or a token")
		return
	}
	SetPrincipal(c, p)
}

// Credentials reads a username and secret from the Portus-Auth header
// (tokens only) or from HTTP Basic. tokenOnly is set for Portus-Auth.
func Credentials(r *http.Request) (name, secret string, ok, tokenOnly bool) {
	if v := r.Header.Get(apitypes.AuthHeader); v != "" {
		name, secret, ok = strings.Cut(v, ":")
		return name, secret, ok && name != "" && secret != "", true
	}
	name, secret, ok = r.BasicAuth()
	return name, secret, ok && name != "" && secret != "", false
}

// bearerToken reads "Authorization: Bearer TOKEN" (scheme in any case).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// LocalAdmin is the middleware of the admin socket: whoever can open the
// socket (mode 0600 in the data directory) acts as an administrator.
func LocalAdmin(c *gin.Context) { SetPrincipal(c, account.Principal{Local: true}) }

func requirePassword(c *gin.Context) {
	if principal(c).Token != nil {
		abort(c, http.StatusForbidden, "an application token can only list your tokens and revoke or rotate itself; this action needs your password")
	}
}

func requireAdmin(c *gin.Context) {
	if !principal(c).Admin() {
		abort(c, http.StatusForbidden, "only administrators may do this")
	}
}

func requireSelfOrAdmin(c *gin.Context) {
	p := principal(c)
	if !p.Admin() && p.Name() != c.Param("name") {
		abort(c, http.StatusForbidden, "you may only manage your own tokens")
	}
}

func abort(c *gin.Context, status int, message string) {
	c.AbortWithStatusJSON(status, apitypes.Error{Message: message})
}

// fail answers with the status and message that fit err (see
// httperr.Explain). Detail that could help an attacker or leak a secret
// stays in the server log.
func (h *Handler) fail(c *gin.Context, err error) {
	p := httperr.Explain(err)
	if p.Log != "" {
		h.Log.Error(p.Log, "method", c.Request.Method, "path", c.FullPath(), "err", err)
	}
	if p.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	// No WWW-Authenticate on a 401: a Basic challenge would make browsers
	// ask for and then replay credentials on cross-site requests.
	abort(c, p.Status, p.API)
}

// reply answers with v as JSON and status, or, when err is set, with what
// fits err (v is then not sent).
func (h *Handler) reply(c *gin.Context, status int, v any, err error) {
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(status, v)
}

// decode reads a JSON body into v. Unknown fields, trailing data and
// bodies over 64 KiB are refused with a message that says what is wrong.
func decode(c *gin.Context, v any) bool {
	// Only JSON: a cross-site HTML form can send text/plain or form bodies
	// that happen to parse as JSON, but never application/json.
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/json" && c.Request.ContentLength != 0 {
		abort(c, http.StatusUnsupportedMediaType, "send the body as JSON with Content-Type: application/json")
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Anything but the end of the body after the object is refused,
		// a stray "}" or "]" included.
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			var tooBig *http.MaxBytesError
			if errors.As(terr, &tooBig) {
				err = terr
			} else {
				err = errors.New("unexpected data after the JSON object")
			}
		}
	}
	if err == nil {
		return true
	}
	var (
		tooBig   *http.MaxBytesError
		typeErr  *json.UnmarshalTypeError
		parseErr *time.ParseError
	)
	switch {
	case errors.As(err, &tooBig):
		abort(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBodyBytes))
	case errors.As(err, &typeErr):
		abort(c, http.StatusBadRequest, fmt.Sprintf("%s: must be a JSON %s", typeErr.Field, typeErr.Type))
	case errors.As(err, &parseErr):
		abort(c, http.StatusBadRequest, "expires_at: must be an RFC 3339 time such as 2027-01-31T00:00:00Z")
	case errors.Is(err, io.EOF):
		abort(c, http.StatusBadRequest, "the request needs a JSON body")
	default:
		abort(c, http.StatusBadRequest, "malformed JSON: "+err.Error())
	}
	return false
}
