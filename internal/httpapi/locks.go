package httpapi

import (
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/inbox"
)

// Handlers of the composer lock an agent holds on a conversation while writing.

func (s *Server) getLock(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lock, err := s.cfg.Inbox.GetLock(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, lockView(&lock))
}

func (s *Server) acquireLock(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lock, err := s.cfg.Inbox.AcquireLock(r.Context(), auth.FromContext(r.Context()), id, s.cfg.LockTTL)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, lockView(&lock))
}

func (s *Server) releaseLock(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Inbox.ReleaseLock(r.Context(), auth.FromContext(r.Context()), id); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// lockJSON is a conversation's composer lock as the lock routes answer it: who holds it and until
// when, both null when it is free.
type lockJSON struct {
	ConversationID int64      `json:"conversation_id"`
	LockedBy       *int64     `json:"locked_by"`
	ExpiresAt      *time.Time `json:"expires_at"`
}

func lockView(l *inbox.Lock) lockJSON {
	return lockJSON{ConversationID: l.ConversationID, LockedBy: l.LockedBy, ExpiresAt: l.ExpiresAt}
}

// heldLockJSON is the lock a conversation shows with it: who holds it and until when.
type heldLockJSON struct {
	LockedBy  int64     `json:"locked_by"`
	ExpiresAt time.Time `json:"expires_at"`
}

// heldLockView is a conversation's composer lock as conversations show it (nil, null in JSON,
// when it is free or expired).
func heldLockView(c *db.Conversation) *heldLockJSON {
	if c.LockedBy == nil || c.LockExpiresAt == nil || !c.LockExpiresAt.After(time.Now()) {
		return nil
	}
	return &heldLockJSON{LockedBy: *c.LockedBy, ExpiresAt: c.LockExpiresAt.UTC()}
}
