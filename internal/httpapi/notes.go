package httpapi

import (
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of private notes, never sent to WhatsApp.

// noteJSON is a private note as the API shows it.
type noteJSON struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	AuthorID       int64     `json:"author_id"`
	Body           string    `json:"body"`
	CreatedAt      time.Time `json:"created_at"`
}

func noteView(n *db.Note) noteJSON {
	return noteJSON{ID: n.ID, ConversationID: n.ConversationID, AuthorID: n.AuthorID, Body: n.Body, CreatedAt: n.CreatedAt}
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	serveConversationList(w, r, s.cfg.Inbox.Notes, noteView)
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	note, err := s.cfg.Inbox.AddNote(r.Context(), auth.FromContext(r.Context()), id, req.Body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, noteView(&note))
}
