package model

import (
	"errors"
	"time"
)

// DeviceGrant is one device authorization request (RFC 8628): a client
// without a browser (the credential helper's login) asked for a code, and a
// signed-in user approves or denies it on the /device page. Both codes are
// stored only as keyed hashes, like tokens: a copy of the store answers no
// poll and approves nothing.
type DeviceGrant struct {
	// DeviceHash is HMAC(pepper, device_code): the key the client polls by.
	DeviceHash []byte `json:"device_hash"`
	// UserHash is HMAC(pepper, the normalised user code): what the
	// approval page looks the grant up by.
	UserHash []byte `json:"user_hash"`
	// ClientID, TokenName and Scope are what the client asked for.
	ClientID  string `json:"client_id"`
	TokenName string `json:"token_name"`
	Scope     string `json:"scope"`
	// ClientIP is the address that asked.
	ClientIP  string    `json:"client_ip,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Interval is the least time between two polls; the first poll of an
	// episode of polls that come sooner makes it 5 s longer (slow_down).
	Interval time.Duration `json:"interval"`
	// LastPoll is when a poll last changed the grant (lengthened
	// Interval); zero if none did. Polls are paced in each replica's
	// memory, so that a poll need not write.
	LastPoll time.Time `json:"last_poll,omitzero"`
	// State is DevicePending, DeviceApproved or DeviceDenied.
	State string `json:"state"`
	// User decided (approved or denied), from DecidedFrom at DecidedAt.
	User        string    `json:"user,omitempty"`
	DecidedFrom string    `json:"decided_from,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
}

// States of a DeviceGrant. A grant leaves the store when its client has
// learnt the outcome (TakeDeviceGrant) or when it expires.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// Expired reports whether g has expired at now.
func (g DeviceGrant) Expired(now time.Time) bool { return !now.Before(g.ExpiresAt) }

// ErrDeviceCodeTaken is CreateDeviceGrant's error when a grant with the
// same device or user code hash exists (the caller draws new codes).
var ErrDeviceCodeTaken = errors.New("device or user code already in use")

// DeviceGrants are the Store methods of the device authorization grant.
// They are in the store, not in a replica's memory, so that any replica
// behind a load balancer can answer a poll or show the approval page.
type DeviceGrants interface {
	// CreateDeviceGrant inserts g. Errors: ErrDeviceCodeTaken.
	CreateDeviceGrant(g DeviceGrant) error
	// DeviceGrantByUserCode returns the grant whose UserHash is userHash,
	// or ErrNotFound.
	DeviceGrantByUserCode(userHash []byte) (DeviceGrant, error)
	// UpdateDeviceGrant applies change to the grant whose DeviceHash is
	// deviceHash inside one transaction and returns the result; change
	// must not alter the hashes. An error from change aborts without
	// writing and is returned as it is. Errors: ErrNotFound.
	UpdateDeviceGrant(deviceHash []byte, change func(*DeviceGrant) error) (DeviceGrant, error)
	// TakeDeviceGrant removes the grant whose DeviceHash is deviceHash and
	// returns it as it was: of concurrent callers exactly one gets it, the
	// others ErrNotFound. This makes a grant single-use.
	TakeDeviceGrant(deviceHash []byte) (DeviceGrant, error)
	// PruneDeviceGrants removes the grants that expired at or before
	// before and returns them. It reads every grant: call it now and then.
	PruneDeviceGrants(before time.Time) ([]DeviceGrant, error)
}
