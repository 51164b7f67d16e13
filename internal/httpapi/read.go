package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/internal/auth"
)

// markConversationRead is POST /api/conversations/{id}/read: the agent has read the conversation,
// so its unread count drops to zero and Meta is told to show the customer blue ticks. It answers
// the conversation; repeating it changes nothing. A conversation the agent may not see is answered
// as one that does not exist.
func (s *Server) markConversationRead(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.cfg.Inbox.Visible(r.Context(), auth.FromContext(r.Context()), id); err != nil {
		writeError(w, r, err)
		return
	}
	row, err := s.cfg.Inbox.MarkConversationRead(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conversationView(&row.Conversation, &row.Contact))
}
