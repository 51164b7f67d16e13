package realtime

import (
	"encoding/json"
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
	// CloseTooManySockets: the user already holds the most authenticated sockets allowed on this
	// instance (Config.MaxSocketsPerUser); the client reconnects later, with backoff, rather than
	// at once.
	CloseTooManySockets websocket.StatusCode = 4009
)

// clientMessage is any client → server message; Type says which fields matter.
type clientMessage struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	// After is the resume cursor: an event id the client received (or a ready/cursor id); 0 is
	// the start of the log; absent or null means "from now".
	After *int64 `json:"after"`
}

// Client message types.
const (
	typeAuth   = "auth"
	typeResume = "resume"
	typePing   = "ping"
)

// protocolError is a client message the protocol does not allow, whatever the socket's state: the
// socket closes with CloseInvalidMessage and the reason, which is short and never echoes the
// client's bytes (a close frame carries at most 123 bytes of reason).
type protocolError struct {
	reason string
}

func (e *protocolError) Error() string { return e.reason }

// parseClientMessage reads one text message from a client: a JSON object of a known type whose
// fields are valid for it. Anything else is a *protocolError, so that no input a client can send
// does more than close its own socket. What depends on the socket's state (auth first, resume
// once) is the session's to check; so is the token, which only verifying can judge.
func parseClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return clientMessage{}, &protocolError{"message is not a JSON object of the protocol"}
	}
	switch m.Type {
	case typeAuth, typePing:
	case typeResume:
		if m.After != nil && *m.After < 0 {
			return clientMessage{}, &protocolError{"after must be an event id"}
		}
	default:
		return clientMessage{}, &protocolError{"unknown message type"}
	}
	return m, nil
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
