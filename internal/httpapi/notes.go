package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of private notes, never sent to WhatsApp.

func noteView(n *db.Note) map[string]any {
	return map[string]any{"id": n.ID, "conversation_id": n.ConversationID, "author_id": n.AuthorID, "body": n.Body, "created_at": n.CreatedAt}
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
