package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
)

type botToggleRequest struct {
	Enabled *bool `json:"enabled"`
}

// setConversationBot is POST /api/conversations/{id}/bot {"enabled": bool}: it hands a
// conversation to the bot or takes it from the bot for the human queue, and answers the
// conversation. Repeating it changes nothing; enabling while the bot is switched off for the inbox
// is a 409.
func (s *Server) setConversationBot(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req botToggleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Enabled == nil {
		writeError(w, r, &apperr.FieldError{Field: "enabled", Message: "is required (true or false)"})
		return
	}
	row, err := s.cfg.Inbox.SetBotEnabled(r.Context(), auth.FromContext(r.Context()), id, *req.Enabled)
	if err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("conversation bot mode set", "conversation_id", id, "enabled", *req.Enabled, "status", row.Conversation.Status)
	writeJSON(w, http.StatusOK, conversationView(&row.Conversation, &row.Contact))
}
