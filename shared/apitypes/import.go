package apitypes

// ImportUsersPath is the admin socket's route that adopts the users of an
// htpasswd file or a docker_auth configuration with their bcrypt hashes
// (`portus user import`). It is not on the public listener.
const ImportUsersPath = "/admin/users/import"

// ImportUsersRequest is the body of POST ImportUsersPath.
type ImportUsersRequest struct {
	Users []ImportUser `json:"users"`
	// DryRun reports what would happen and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// ImportUser is one account to adopt.
type ImportUser struct {
	Name string `json:"name"`
	// PasswordHash is the bcrypt string of the old registry ($2y$...).
	PasswordHash string `json:"password_hash"`
	Admin        bool   `json:"admin,omitempty"`
}

// Results of an imported user.
const (
	ImportCreated     = "created"
	ImportWouldCreate = "would create"
	ImportExists      = "exists"
	ImportRefused     = "refused"
)

// ImportResult says what became of one ImportUser, in the request's order.
type ImportResult struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	// Reason says why a user was refused or skipped.
	Reason string `json:"reason,omitempty"`
}

// ImportUsersResponse answers ImportUsersRequest.
type ImportUsersResponse struct {
	Results []ImportResult `json:"results"`
}
