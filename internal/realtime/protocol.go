package realtime

import (
	"time"

	"github.com/coder/websocket"
)

// Close codes of the WebSocket protocol (docs/realtime.md). Besides these the server uses 1001
// (going away: the instance is shutting down), 1009 (a client message was larger than the read
// limit) and 1011 (an internal error, such as the database failing during a resume). A client
// reconnects and resumes after any of them except 4001, 4002 and 4004, which need a new token.
const (
	// CloseInvalidMessage: a message that is not JSON, of an unknown type, binary, or out of
	// order (anything but auth first, resume more than once).
	CloseInvalidMessage websocket.StatusCode = 4000
	// CloseInvalidToken: the token in an auth message is not a valid access token.
	CloseInvalidToken websocket.StatusCode = 4001
	// CloseTokenExpired: the token in an auth message has expired, or the connection's token
	// expired without being renewed in-band.
	CloseTokenExpired websocket.StatusCode = 4002
	// CloseAuthTimeout: no auth message (or, after it, no resume message) within the auth timeout.
	CloseAuthTimeout websocket.StatusCode = 4003
	// CloseUserMismatch: a renewal token belongs to another user than the connection's.
	CloseUserMismatch websocket.StatusCode = 4004
	// CloseSlowConsumer: the client did not read its events fast enough and its bounded queue
	// overflowed; it resumes from its cursor after reconnecting.
	CloseSlowConsumer websocket.StatusCode = 4005
	// CloseNoPong: the client did not answer a keepalive ping in time.
	CloseNoPong websocket.StatusCode = 4006
	// CloseSessionRevoked: the connection's session ended (logout, a reused refresh token, an
	// admin's revoke-all, the user disabled); the client must log in again.
	CloseSessionRevoked websocket.StatusCode = 4007
	// ClosePermissionsChanged: the user's role, permissions or groups changed; the client
	// reconnects (with a fresh access token) and resumes under the new rules.
	ClosePermissionsChanged websocket.StatusCode = 4008
)

// clientMessage is any client → server message; Type says which fields matter.
type clientMessage struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	// After is the resume cursor: an event id the client received (or a ready/cursor id); 0 is
	// the start of the log; absent or null means "from now".
	After *int64 `json:"after"`
}

// Server → client messages other than events (eventMessage).

type authenticatedMessage struct {
	Type      string    `json:"type"`
	UserID    int64     `json:"user_id"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

// positionMessage is "ready" (the resume is done; live events follow) and "cursor" (a resume
// point for a client that saw none of the recent events).
type positionMessage struct {
	Type string `json:"type"`
	ID   int64  `json:"id"`
}

type resetMessage struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

type typeMessage struct {
	Type string `json:"type"`
}

// Reset reasons.
const (
	resetUnknownCursor = "unknown_cursor"
	resetTooOld        = "too_old"
	resetTooFarBehind  = "too_far_behind"
)
