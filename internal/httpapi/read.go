package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// markConversationRead is POST /api/conversations/{id}/read: the agent has read the conversation,
// so its unread count drops to zero and Meta is told to show the customer blue ticks. It answers
// the conversation; repeating it changes nothing. The receipt reaches the customer, so the domain
// requires the right to write, as for sending: 404 to those who may not see the conversation, 403
// to those who may only read it.
func (s *Server) markConversationRead(w http.ResponseWriter, r *http.Request) {
	s.conversationAction(w, r, func(p *auth.Principal, id int64) (db.ConversationGetRow, error) {
		return s.cfg.Inbox.MarkConversationRead(r.Context(), p, id)
	})
}
