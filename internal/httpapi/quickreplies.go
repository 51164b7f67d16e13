package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/quickreplies"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Handlers of quick replies, agents' saved responses. Who sees and who changes one is decided in
// internal/quickreplies; handlers parse and render.

// quickReplyJSON is a quick reply as the API shows it.
type quickReplyJSON struct {
	ID       int64             `json:"id"`
	Scope    string            `json:"scope"`
	OwnerID  *int64            `json:"owner_id"`
	GroupID  *int64            `json:"group_id"`
	Shortcut string            `json:"shortcut"`
	Body     string            `json:"body"`
	Message  *waformat.Message `json:"message"`
	// Editable says whether the caller may change or delete it.
	Editable  bool      `json:"editable"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func quickReplyView(q *quickreplies.QuickReply) quickReplyJSON {
	return quickReplyJSON{
		ID: q.ID, Scope: string(q.Scope), OwnerID: q.OwnerID, GroupID: q.GroupID, Shortcut: q.Shortcut,
		Body: q.Body, Message: q.Message, Editable: q.Editable, CreatedBy: q.CreatedBy,
		CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt,
	}
}

type quickReplyListJSON struct {
	Data       []quickReplyJSON `json:"data"`
	NextCursor *string          `json:"next_cursor"`
}

type createQuickReplyRequest struct {
	Shortcut string            `json:"shortcut"`
	Body     string            `json:"body"`
	Message  *waformat.Message `json:"message"`
	Scope    string            `json:"scope"`
	GroupID  *int64            `json:"group_id"`
}

// updateQuickReplyRequest is a PATCH: absent fields stay; "message": null removes the message.
type updateQuickReplyRequest struct {
	Shortcut *string         `json:"shortcut"`
	Body     *string         `json:"body"`
	Message  optionalMessage `json:"message"`
}

// optionalMessage is a message field that tells absent from null, decoded as strictly as the rest
// of the body (unknown fields refused).
type optionalMessage struct {
	Set   bool
	Value *waformat.Message
}

func (o *optionalMessage) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m waformat.Message
	if err := dec.Decode(&m); err != nil {
		return err
	}
	o.Value = &m
	return nil
}

// listQuickReplies answers the quick replies the caller sees, by shortcut: ?prefix= (a leading "/"
// ignored), ?scope=personal|group|team, ?limit= and ?cursor= as every list.
func (s *Server) listQuickReplies(w http.ResponseWriter, r *http.Request) {
	limit, err := pageSize(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	var after *quickreplies.Cursor
	if c := q.Get("cursor"); c != "" {
		if after, err = decodeQuickReplyCursor(c); err != nil {
			writeError(w, r, err)
			return
		}
	}
	f := quickreplies.Filter{Prefix: q.Get("prefix"), Scope: quickreplies.Scope(q.Get("scope"))}
	rows, err := s.cfg.QuickReplies.Search(r.Context(), auth.FromContext(r.Context()), f, after, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := quickReplyListJSON{Data: make([]quickReplyJSON, len(rows))}
	for i := range rows {
		out.Data[i] = quickReplyView(&rows[i])
	}
	if len(rows) == limit {
		last := rows[len(rows)-1]
		c := encodeQuickReplyCursor(last.ID, last.Shortcut)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createQuickReply(w http.ResponseWriter, r *http.Request) {
	var req createQuickReplyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	q, err := s.cfg.QuickReplies.Create(r.Context(), auth.FromContext(r.Context()), quickreplies.Input{
		Scope: quickreplies.Scope(req.Scope), GroupID: req.GroupID, Shortcut: req.Shortcut, Body: req.Body, Message: req.Message,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, quickReplyView(&q))
}

func (s *Server) getQuickReply(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := s.cfg.QuickReplies.Get(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, quickReplyView(&q))
}

func (s *Server) updateQuickReply(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req updateQuickReplyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	q, err := s.cfg.QuickReplies.Update(r.Context(), auth.FromContext(r.Context()), id, quickreplies.Patch{
		Shortcut: req.Shortcut, Body: req.Body, Message: req.Message.Value, SetMessage: req.Message.Set,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, quickReplyView(&q))
}

func (s *Server) deleteQuickReply(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.QuickReplies.Delete(r.Context(), auth.FromContext(r.Context()), id); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Quick reply cursors are opaque to clients: base64 of "id:shortcut" of the last row.
func encodeQuickReplyCursor(id int64, shortcut string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10) + ":" + shortcut))
}

func decodeQuickReplyCursor(c string) (*quickreplies.Cursor, error) {
	bad := errBadRequest("invalid_cursor", "cursor must be a next_cursor value from a previous page")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || badText(string(b)) {
		return nil, bad
	}
	id, shortcut, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || n <= 0 {
		return nil, bad
	}
	return &quickreplies.Cursor{Shortcut: shortcut, ID: n}, nil
}
