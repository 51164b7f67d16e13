package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
)

// Handler of a conversation's status and assignment history.

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	serveConversationList(w, r, s.cfg.Inbox.History, historyView)
}

// historyJSON is one change of a conversation's status or assignment. Details are the action's
// own (from and to of a status, the previous and new assignee of an assignment, ...), kept as
// they were recorded.
type historyJSON struct {
	ID             int64           `json:"id"`
	ConversationID int64           `json:"conversation_id"`
	ActorID        *int64          `json:"actor_id"`
	Action         string          `json:"action"`
	Details        json.RawMessage `json:"details"`
	CreatedAt      time.Time       `json:"created_at"`
}

func historyView(h *db.ConversationHistory) historyJSON {
	return historyJSON{ID: h.ID, ConversationID: h.ConversationID, ActorID: h.ActorID,
		Action: h.Action, Details: h.Details, CreatedAt: h.CreatedAt}
}
