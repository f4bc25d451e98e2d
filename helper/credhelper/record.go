package credhelper

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/helper/keychain"
)

// Kinds of stored secret.
const (
	// kindCreated: an application token this helper created; erase revokes it.
	kindCreated = "created"
	// kindToken: an application token the user gave docker login; kept as is
	// and not revoked by erase (it may be in use elsewhere).
	kindToken = "token"
	// kindIdentity: an identity token (username "<token>"), kept as is;
	// erase revokes it when it is a Portus token whose server is known
	// (Portus set).
	kindIdentity = "identity"
	// kindPassword: the password of a registry that does not use Portus.
	kindPassword = "password"
)

// identityUsername is the username docker uses for identity tokens.
const identityUsername = "<token>"

// recordVersion is the current format of record.
const recordVersion = 1

// record is the keyring value of one server, a small JSON object within
// keychain.MaxValueLen:
//
//	{"v":1,"kind":"created","username":"alice","secret":"ptk_…",
//	 "portus":"https://portus.example.com","token_name":"docker-credential-portus@box","token_id":"42"}
type record struct {
	V         int    `json:"v"`
	Kind      string `json:"kind"`
	Username  string `json:"username"`
	Secret    string `json:"secret"`
	Portus    string `json:"portus,omitempty"`
	TokenName string `json:"token_name,omitempty"`
	TokenID   string `json:"token_id,omitempty"`
	// IssuedAt is when the secret was made (created or rotated), by this
	// machine's clock, for rotate_after (rotate.go); zero in records from
	// before it was kept: such a token's age is unknown.
	IssuedAt time.Time `json:"issued_at,omitzero"`
}

// errBadRecord: a keyring item that this helper did not write.
var errBadRecord = errors.New("not an item written by docker-credential-portus")

func readRecord(kc *keychain.Keychain, key string) (*record, error) {
	v, err := kc.Get(key)
	if err != nil {
		return nil, err
	}
	return parseRecord(key, v)
}

// parseRecord reads the keyring value v of key.
func parseRecord(key, v string) (*record, error) {
	var r record
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.V != recordVersion || r.Username == "" {
		return nil, fmt.Errorf("keyring item %q of service %q: %w: log in again to replace it", key, keychain.Service, errBadRecord)
	}
	return &r, nil
}

func writeRecord(kc *keychain.Keychain, key string, r *record) error {
	b, err := r.encode()
	if err != nil {
		return err
	}
	// The size limit is the keychain's to check (keychain.MaxValueLen); this
	// only says what may have made the record too large.
	if err := kc.Put(key, b); err != nil {
		if errors.Is(err, keychain.ErrTooLarge) {
			return fmt.Errorf("the credentials of %s do not fit in a keyring item (is the username or identity token that long?): %w", key, err)
		}
		return err
	}
	return nil
}

// encode is the keyring value of r, in the current format.
func (r *record) encode() (string, error) {
	r.V = recordVersion
	b, err := json.Marshal(r)
	return string(b), err
}
