package model

import "time"

// Event is something that happened to a user or a token that systems
// outside Portus are told about (webhooks, package server/webhook). Like
// Activity it never holds a secret, a hash or a password: only names, ids,
// times and addresses.
type Event struct {
	// ID, if set, is the event's id (else the publisher makes a random
	// one): an event that may be published again for the same happening
	// (the expiry sweep's, after a crash) carries one derived from it,
	// so that receivers can deduplicate the repeat.
	ID        string     `json:"-"`
	Type      string     `json:"type"`
	Time      time.Time  `json:"time"`
	User      string     `json:"user"`
	TokenID   string     `json:"token_id,omitempty"`
	TokenName string     `json:"token_name,omitempty"`
	Scope     string     `json:"scope,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Reason says why, where the type alone does not ("leaked",
	// "expired", "idle", "replaced", "user").
	Reason string `json:"reason,omitempty"`
	// Address is the client address that caused the event, if one did.
	Address string `json:"address,omitempty"`
	// Source is where a leaked token was found, as its reporter gave it.
	Source string `json:"source,omitempty"`
}

// Event types, the values of Event.Type and of a webhook's events list.
const (
	EventTokenCreated  = "token.created"
	EventTokenRevoked  = "token.revoked"
	EventTokenRotated  = "token.rotated"
	EventTokenReuse    = "token.reuse"
	EventTokenExpiring = "token.expiring"
	EventTokenExpired  = "token.expired"
	EventUserLocked    = "user.locked"
)

// EventTypes are all event types, in the order documentation lists them.
var EventTypes = []string{EventTokenCreated, EventTokenRevoked, EventTokenRotated,
	EventTokenReuse, EventTokenExpiring, EventTokenExpired, EventUserLocked}
