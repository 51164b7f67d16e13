package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/wainbox/wainbox/db"
)

// Handler of a conversation's status and assignment history.

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	serveConversationList(w, r, s.cfg.Inbox.History, historyView)
}

func historyView(h *db.ConversationHistory) map[string]any {
	return map[string]any{"id": h.ID, "conversation_id": h.ConversationID, "actor_id": h.ActorID,
		"action": h.Action, "details": json.RawMessage(h.Details), "created_at": h.CreatedAt}
}
