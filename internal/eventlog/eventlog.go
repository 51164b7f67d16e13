// Package eventlog is the log of changes that agents' panels follow. Every change that an agent
// must see (a message, a status, a conversation's assignment, a revoked session) is written as a
// row of the events table in the same transaction as the change itself, so an event exists exactly
// when its change committed. Once the transaction commits, the doorbell tells every instance to
// read the log (internal/realtime reads it and delivers to WebSockets).
//
// Writers need nothing but a Log and the transaction they already have: Append arranges the ring
// after the commit itself, so no caller can forget it and none rings for a rollback.
package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
)

// Event kinds. Clients switch on these; they are part of the WebSocket protocol (docs/realtime.md).
const (
	MessageCreated = "message.created"
	MessageStatus  = "message.status"
	// MessageMedia says a message's file was stored, failed to be fetched, or was deleted.
	MessageMedia        = "message.media"
	ConversationCreated = "conversation.created"
	ConversationUpdated = "conversation.updated"
	ConversationLock    = "conversation.lock"
	ConversationTags    = "conversation.tags"
	NoteCreated         = "note.created"

	// SessionsRevoked is written when sessions end (logout, refresh token reuse, an admin's
	// revoke, a disabled user, a password change). It belongs to no conversation: the real-time
	// hub of every instance closes the matching sockets and forgets cached principals.
	SessionsRevoked = "user.sessions_revoked"
	// PermissionsChanged is written when a user's role, permissions or groups change; every
	// instance forgets cached principals and re-checks what the user's sockets may follow.
	PermissionsChanged = "user.permissions_changed"
)

// Retention is how long events are kept: twice as long as a WebSocket resume may reach back
// (24 h). Readers that follow the log from a stored position (the reports' rollup) rely on it.
const Retention = 48 * time.Hour

// Access reports whether kind changes who may see what (sessions or permissions) rather than
// describing a conversation.
func Access(kind string) bool { return kind == SessionsRevoked || kind == PermissionsChanged }

// Event is one event to append.
type Event struct {
	Kind string
	// ConversationID is the conversation the event belongs to; 0 means none: such an event is
	// delivered to every connected user, so it must carry nothing private.
	ConversationID int64
	// Payload is encoded as JSON. It stays small (ids, statuses, a short preview): clients fetch
	// full objects over REST, so an event costs little to write in the hot path and to replay.
	Payload any
}

// Ringer is told once a transaction that appended events has committed; *Doorbell is one.
type Ringer interface {
	Ring()
}

// Log appends events. The zero value and a nil *Log append without ringing (tests that read the
// log themselves); listeners still find such events on their safety poll.
type Log struct {
	ringer Ringer
}

// New returns a Log whose commits ring r.
func New(r Ringer) *Log { return &Log{ringer: r} }

// errNotInTx is returned when events are appended in a transaction that no hook can follow.
var errNotInTx = errors.New("events must be appended in a transaction of database.InTx, which rings after its commit")

// Append writes one event in tx and rings the doorbell once tx has committed.
func (l *Log) Append(ctx context.Context, tx pgx.Tx, kind string, conversationID int64, payload any) error {
	return l.AppendAll(ctx, tx, Event{Kind: kind, ConversationID: conversationID, Payload: payload})
}

// AppendAll writes events in tx in one round trip, in order, and rings the doorbell once tx has
// committed: a transaction that describes its change with several events (a new message and its
// conversation) pays for one statement instead of one per event.
func (l *Log) AppendAll(ctx context.Context, tx pgx.Tx, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	p := db.EventInsertManyParams{
		Kinds:           make([]string, len(events)),
		ConversationIds: make([]int64, len(events)),
		Payloads:        make([]json.RawMessage, len(events)),
	}
	for i, e := range events {
		b, err := json.Marshal(e.Payload)
		if err != nil {
			return fmt.Errorf("error encoding %s event: %w", e.Kind, err)
		}
		p.Kinds[i], p.ConversationIds[i], p.Payloads[i] = e.Kind, e.ConversationID, b
	}
	if l != nil && l.ringer != nil && !database.AfterCommit(tx, l.ringer.Ring) {
		return fmt.Errorf("error writing %s events: %w", strings.Join(p.Kinds, ", "), errNotInTx)
	}
	if err := db.New().EventInsertMany(ctx, tx, p); err != nil {
		return fmt.Errorf("error writing %s events: %w", strings.Join(p.Kinds, ", "), err)
	}
	return nil
}
