package httpapi

import (
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
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
	writeJSON(w, http.StatusOK, lock)
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
	writeJSON(w, http.StatusOK, lock)
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

// lockView is a conversation's composer lock as lists show it (null when free or expired).
func lockView(c *db.Conversation) any {
	if c.LockedBy == nil || c.LockExpiresAt == nil || !c.LockExpiresAt.After(time.Now()) {
		return nil
	}
	return map[string]any{"locked_by": *c.LockedBy, "expires_at": c.LockExpiresAt.UTC()}
}
