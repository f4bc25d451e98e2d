package web

import (
	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// dockerLoginUpdate is the profile's "accept only application tokens for
// docker login" switch. It takes effect at once: the next docker login
// with the password is refused at /v2/token.
func (h *Handler) dockerLoginUpdate(c *gin.Context) {
	p, _ := currentUser(c)
	on := c.PostForm("tokens_only") != ""
	if _, err := h.accounts.SetOwnDockerLogin(actor(c), p.Name(), on); err != nil {
		status, msg := h.explain(c, err)
		h.showProfile(c, status, profileData{DockerLoginError: msg})
		return
	}
	msg := "docker login now accepts only your application tokens: your password is refused."
	if !on {
		msg = "docker login follows the server's policy again: your password is accepted as well as your tokens."
	}
	h.redirect(c, "/profile#docker-login", success(msg))
}

// userDockerLoginUpdate sets a user's docker_login policy for an
// administrator: tokens_only, passwords_allowed, or "" for the server's.
// An administrator's setting wins over the user's own switch.
func (h *Handler) userDockerLoginUpdate(c *gin.Context) {
	// UpdateUser validates it (a bad value is a FieldError, shown as any).
	policy := c.PostForm("docker_login")
	done := map[string]string{
		"":                                  "User '%s' now follows the server's docker login policy.",
		account.DockerLoginTokensOnly:       "User '%s' can now docker login with application tokens only.",
		account.DockerLoginPasswordsAllowed: "User '%s' may now docker login with their password too.",
	}[policy]
	h.updateUser(c, account.UserChange{DockerLogin: &policy}, done, "")
}

// dockerLoginChoices are the administrator's options on a user's page.
var dockerLoginChoices = []option{
	{"", "the server's policy"},
	{account.DockerLoginTokensOnly, "application tokens only (refuse the password)"},
	{account.DockerLoginPasswordsAllowed, "password or application tokens"},
}
