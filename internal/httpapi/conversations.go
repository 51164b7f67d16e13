package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/inbox"
)

// Handlers of conversations: starting, reading and listing them, and the team's work on them
// (status, takeover, release, assignment). The permission rules live in internal/auth and
// internal/inbox; handlers only parse and render.

// conversationAction runs a conversation use case that answers the conversation.
func (s *Server) conversationAction(w http.ResponseWriter, r *http.Request, fn func(p *auth.Principal, id int64) (db.ConversationGetRow, error)) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	row, err := fn(auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conversationView(&row.Conversation, &row.Contact))
}

func (s *Server) setConversationStatus(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status       string     `json:"status"`
		SnoozedUntil *time.Time `json:"snoozed_until"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	s.conversationAction(w, r, func(p *auth.Principal, id int64) (db.ConversationGetRow, error) {
		return s.cfg.Inbox.SetStatus(r.Context(), p, id, req.Status, req.SnoozedUntil)
	})
}

func (s *Server) takeover(w http.ResponseWriter, r *http.Request) {
	s.conversationAction(w, r, func(p *auth.Principal, id int64) (db.ConversationGetRow, error) {
		return s.cfg.Inbox.Takeover(r.Context(), p, id)
	})
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	s.conversationAction(w, r, func(p *auth.Principal, id int64) (db.ConversationGetRow, error) {
		return s.cfg.Inbox.Release(r.Context(), p, id)
	})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AgentID auth.Optional[int64] `json:"agent_id"`
		GroupID auth.Optional[int64] `json:"group_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	s.conversationAction(w, r, func(p *auth.Principal, id int64) (db.ConversationGetRow, error) {
		return s.cfg.Inbox.Assign(r.Context(), p, id, inbox.Assignment{
			AgentID: req.AgentID.Value, SetAgent: req.AgentID.Set, GroupID: req.GroupID.Value, SetGroup: req.GroupID.Set,
		})
	})
}

// conversationFilter reads the list filters: status, assignee (me, an id, unassigned), group,
// tag, unread, q (contact name or number).
func conversationFilter(r *http.Request, p *auth.Principal) (inbox.ConversationFilter, error) {
	q := r.URL.Query()
	f := inbox.ConversationFilter{Status: q.Get("status"), Tag: q.Get("tag"), Query: q.Get("q")}
	switch f.Status {
	case "", inbox.ConversationBot, inbox.ConversationOpen, inbox.ConversationPending, inbox.ConversationSnoozed, inbox.ConversationResolved:
	default:
		return f, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "status", Message: "status must be bot, open, pending, snoozed or resolved"}
	}
	switch a := q.Get("assignee"); a {
	case "":
	case "me":
		f.AssigneeID = &p.UserID
	case "unassigned", "none":
		f.Unassigned = true
	default:
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return f, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "assignee", Message: "assignee must be me, unassigned or a user id"}
		}
		f.AssigneeID = &id
	}
	if g := q.Get("group"); g != "" {
		id, err := strconv.ParseInt(g, 10, 64)
		if err != nil || id <= 0 {
			return f, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "group", Message: "group must be a group id"}
		}
		f.GroupID = &id
	}
	switch u := strings.ToLower(q.Get("unread")); u {
	case "", "0", "false":
	case "1", "true":
		f.Unread = true
	default:
		return f, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "unread", Message: "unread must be true or false"}
	}
	if len(f.Query) > 100 {
		return f, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "q", Message: "q must be at most 100 characters"}
	}
	return f, nil
}

type startConversationRequest struct {
	WaID string `json:"wa_id"`
	messageRequest
}

func (s *Server) startConversation(w http.ResponseWriter, r *http.Request) {
	var req startConversationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.QuickReplyID != 0 {
		writeError(w, r, &apperr.FieldError{Field: "quick_reply_id", Message: "is for a conversation that exists; start one with a template"})
		return
	}
	in, err := req.input()
	if err != nil {
		writeError(w, r, err)
		return
	}
	conv, msg, created, err := s.cfg.Inbox.StartConversation(r.Context(), auth.FromContext(r.Context()), strings.TrimPrefix(req.WaID, "+"), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		logger(r).Info("message queued", "message_id", msg.ID, "conversation_id", msg.ConversationID)
	}
	writeJSON(w, status, startedJSON{Conversation: conversationView(&conv.Conversation, &conv.Contact), Message: messageView(&msg)})
}

// startedJSON is the answer of POST /api/conversations: the conversation and its first message.
type startedJSON struct {
	Conversation conversationJSON `json:"conversation"`
	Message      *messageJSON     `json:"message"`
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	row, err := s.cfg.Inbox.GetConversation(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conversationView(&row.Conversation, &row.Contact))
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	limit, err := pageSize(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var cursor *inbox.ConversationCursor
	if c := r.URL.Query().Get("cursor"); c != "" {
		if cursor, err = decodeConversationCursor(c); err != nil {
			writeError(w, r, err)
			return
		}
	}
	p := auth.FromContext(r.Context())
	filter, err := conversationFilter(r, p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := s.cfg.Inbox.ListConversations(r.Context(), p, filter, cursor, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := pageJSON[listedConversationJSON]{Data: make([]listedConversationJSON, len(rows))}
	for i := range rows {
		page.Data[i] = listedConversationJSON{conversationJSON: conversationView(&rows[i].Conversation, &rows[i].Contact)}
		if m := rows[i].Last; m != nil {
			page.Data[i].LastMessage = &lastMessageJSON{
				ID: m.ID, Direction: m.Direction, Type: m.Type, Preview: m.Preview, Status: m.Status, CreatedAt: m.CreatedAt,
			}
		}
	}
	if len(rows) == limit {
		last := rows[len(rows)-1].Conversation
		c := encodeConversationCursor(last.LastMessageAt, last.ID)
		page.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, page)
}

// unreadCount is GET /api/conversations/unread: the caller's badge, how many of the conversations
// assigned to them hold unread messages and how many messages.
func (s *Server) unreadCount(w http.ResponseWriter, r *http.Request) {
	n, err := s.cfg.Inbox.MyUnreadCount(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, unreadCountJSON{Conversations: n.Conversations, Messages: n.Messages})
}

type unreadCountJSON struct {
	Conversations int64 `json:"conversations"`
	Messages      int64 `json:"messages"`
}

// Conversation cursors are opaque to clients: base64 of "unix-nanos:id" of the last row.
func encodeConversationCursor(at time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%d", at.UnixNano(), id))
}

func decodeConversationCursor(c string) (*inbox.ConversationCursor, error) {
	bad := errBadRequest("invalid_cursor", "cursor must be a next_cursor value from a previous page")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, bad
	}
	nanos, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return nil, bad
	}
	n, err1 := strconv.ParseInt(nanos, 10, 64)
	i, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	return &inbox.ConversationCursor{LastMessageAt: time.Unix(0, n), ID: i}, nil
}

// Views: the API's JSON shapes, kept apart from the database rows so that a column added for
// internal bookkeeping does not leak into the contract.

// conversationJSON is a conversation as the API shows it, with its contact.
type conversationJSON struct {
	ID           int64      `json:"id"`
	ChannelID    int64      `json:"channel_id"`
	Status       string     `json:"status"`
	AssigneeID   *int64     `json:"assignee_id"`
	GroupID      *int64     `json:"group_id"`
	SnoozedUntil *time.Time `json:"snoozed_until"`
	// Lock is the composer lock an agent holds on the conversation, null when it is free.
	Lock          *heldLockJSON `json:"lock"`
	UnreadCount   int32         `json:"unread_count"`
	LastMessageAt time.Time     `json:"last_message_at"`
	CreatedAt     time.Time     `json:"created_at"`
	// WindowExpiresAt is when the 24-hour customer-service window closes (null: the customer
	// never wrote); WindowOpen says whether a free-form message may be sent now. Outside it only
	// an approved template can be sent.
	WindowExpiresAt *time.Time  `json:"window_expires_at"`
	WindowOpen      bool        `json:"window_open"`
	Contact         contactJSON `json:"contact"`
}

// listedConversationJSON is a conversation as the list shows it: with its latest message, null
// when it has none.
type listedConversationJSON struct {
	conversationJSON
	LastMessage *lastMessageJSON `json:"last_message"`
}

// lastMessageJSON is the latest message of a listed conversation: its body cut to a 100-character
// preview, as message events carry it.
type lastMessageJSON struct {
	ID        int64     `json:"id"`
	Direction string    `json:"direction"`
	Type      string    `json:"type"`
	Preview   string    `json:"preview"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// contactJSON is the customer of a conversation: WaID is their number, UserID Meta's
// business-scoped id of a customer who hides it.
type contactJSON struct {
	ID            int64      `json:"id"`
	WaID          string     `json:"wa_id"`
	UserID        *string    `json:"user_id"`
	ProfileName   string     `json:"profile_name"`
	LastInboundAt *time.Time `json:"last_inbound_at"`
}

func conversationView(c *db.Conversation, ct *db.Contact) conversationJSON {
	return conversationJSON{
		ID: c.ID, ChannelID: c.ChannelID, Status: c.Status, AssigneeID: c.AssigneeID, GroupID: c.GroupID,
		SnoozedUntil: c.SnoozedUntil, Lock: heldLockView(c), UnreadCount: c.UnreadCount,
		LastMessageAt: c.LastMessageAt, CreatedAt: c.CreatedAt,
		WindowExpiresAt: inbox.WindowExpiresAt(ct.LastInboundAt), WindowOpen: inbox.WindowOpenNow(ct.LastInboundAt),
		Contact: contactJSON{
			ID: ct.ID, WaID: ct.WaID, UserID: ct.UserID, ProfileName: ct.ProfileName, LastInboundAt: ct.LastInboundAt,
		},
	}
}
