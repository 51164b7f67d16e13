package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/inbox"
)

// Handlers of sessions, users and groups, and the team's work on conversations. The
// permission rules themselves are in internal/auth/policy.go; handlers only ask.

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Email == "" || req.Password == "" {
		writeError(w, r, errBadRequest("invalid_request", "email and password are required"))
		return
	}
	// A locked account or address answers 429 with Retry-After, even to the right password.
	user, err := s.passwords.check(r, entranceLogin, req.Email, req.Password)
	if err != nil {
		writeError(w, r, err)
		return
	}
	g, err := s.cfg.Sessions.Start(r.Context(), &user, r.UserAgent(), s.clientAddr.of(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, grantView(g, map[string]any{"user": userView(&user)}))
}

func grantView(g *auth.Grant, extra map[string]any) map[string]any {
	v := map[string]any{
		"access_token":       g.AccessToken,
		"token_type":         "Bearer",
		"expires_in":         int(time.Until(g.AccessExpiresAt).Round(time.Second).Seconds()),
		"expires_at":         g.AccessExpiresAt.UTC(),
		"refresh_token":      g.RefreshToken,
		"refresh_expires_at": g.RefreshExpiresAt.UTC(),
		"session_id":         g.SessionID,
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "refresh_token", Message: "refresh_token is required"})
		return
	}
	g, err := s.cfg.Sessions.Refresh(r.Context(), req.RefreshToken)
	if errors.Is(err, auth.ErrRefreshTokenReused) {
		logger(r).Warn("refresh token reused; session revoked", "error", err, "ip", s.clientAddr.of(r))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, grantView(g, nil))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Sessions.Logout(r.Context(), auth.FromContext(r.Context())); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	p := auth.FromContext(r.Context())
	u, err := s.cfg.Users.GetWithGroups(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user":        adminUserView(&u),
		"role":        p.Role,
		"permissions": p.Perms(),
		"group_ids":   nonNil(p.GroupIDs),
		"session_id":  p.SessionID,
		"expires_at":  p.ExpiresAt.UTC(),
	})
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// adminUserView is a user as administrators see it: effective permissions, the overrides that
// produce them (null = the role's default), groups and availability.
func adminUserView(u *auth.UserWithGroups) map[string]any {
	v := userView(&u.User)
	v["disabled"] = u.DisabledAt != nil
	v["disabled_at"] = u.DisabledAt
	v["availability"] = u.Availability
	v["max_conversations"] = u.MaxConversations
	v["group_ids"] = nonNil(u.GroupIDs)
	v["permissions"] = auth.Resolve(u.Role, overrides(&u.User))
	v["overrides"] = map[string]any{
		"can_read_chats": u.CanReadChats, "can_write_chats": u.CanWriteChats,
		"can_manage_templates": u.CanManageTemplates, "can_manage_users": u.CanManageUsers,
		"can_view_metrics": u.CanViewMetrics, "can_use_tags": u.CanUseTags,
	}
	v["created_at"] = u.CreatedAt
	return v
}

func overrides(u *db.User) auth.Overrides {
	return auth.Overrides{
		ReadChats: u.CanReadChats, WriteChats: u.CanWriteChats, ManageTemplates: u.CanManageTemplates,
		ManageUsers: u.CanManageUsers, ViewMetrics: u.CanViewMetrics, UseTags: u.CanUseTags,
	}
}

// requireManager answers 403 unless the caller may manage users and groups.
func requireManager(w http.ResponseWriter, r *http.Request) bool {
	if !auth.CanManageUsers(auth.FromContext(r.Context())) {
		writeError(w, r, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "managing users and groups needs can_manage_users"})
		return false
	}
	return true
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !requireManager(w, r) {
		return
	}
	users, err := s.cfg.Users.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	data := make([]any, len(users))
	for i := range users {
		data[i] = adminUserView(&users[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if !requireManager(w, r) {
		return
	}
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	u, err := s.cfg.Users.GetWithGroups(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminUserView(&u))
}

type createUserRequest struct {
	Email string `json:"email"`
	auth.UserPatch
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	if !requireManager(w, r) {
		return
	}
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	// What the caller may grant the new user is decided in auth, in the creating transaction.
	u, err := s.cfg.Users.CreateBy(r.Context(), auth.FromContext(r.Context()), req.Email, req.UserPatch)
	if err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("user created", "new_user_id", u.ID, "role", u.Role)
	writeJSON(w, http.StatusCreated, adminUserView(&u))
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	if !requireManager(w, r) {
		return
	}
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var patch auth.UserPatch
	if err := decodeJSON(w, r, &patch); err != nil {
		writeError(w, r, err)
		return
	}
	// Whether the caller may change this user is decided in auth, under the user's row lock.
	u, err := s.cfg.Users.Update(r.Context(), s.cfg.Sessions, auth.FromContext(r.Context()), id, patch)
	if err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("user updated", "target_user_id", id, "disabled", u.DisabledAt != nil, "password_set", patch.Password.Set)
	writeJSON(w, http.StatusOK, adminUserView(&u))
}

func (s *Server) revokeUserSessions(w http.ResponseWriter, r *http.Request) {
	if !requireManager(w, r) {
		return
	}
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Users.RevokeSessions(r.Context(), s.cfg.Sessions, auth.FromContext(r.Context()), id); err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("sessions revoked", "target_user_id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) setAvailability(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Availability string `json:"availability"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	u, err := s.cfg.Users.SetAvailability(r.Context(), auth.FromContext(r.Context()).UserID, req.Availability)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"availability": u.Availability})
}

// listGroups answers every group to every user (the panel offers them as assignment targets);
// only managers see the members.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	rows, err := s.cfg.Users.Groups(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	manager := auth.CanManageUsers(auth.FromContext(r.Context()))
	data := make([]any, len(rows))
	for i := range rows {
		data[i] = groupView(&rows[i].Group, rows[i].MemberIds, manager)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func groupView(g *db.Group, members []int64, withMembers bool) map[string]any {
	v := map[string]any{"id": g.ID, "name": g.Name, "auto_assign": g.AutoAssign, "created_at": g.CreatedAt}
	if withMembers {
		v["member_ids"] = nonNil(members)
	}
	return v
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	s.saveGroup(w, r, 0)
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.saveGroup(w, r, id)
}

func (s *Server) saveGroup(w http.ResponseWriter, r *http.Request, id int64) {
	if !requireManager(w, r) {
		return
	}
	var in auth.GroupInput
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	g, err := s.cfg.Users.SaveGroup(r.Context(), s.cfg.Sessions, auth.FromContext(r.Context()), id, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if id == 0 {
		status = http.StatusCreated
	}
	writeJSON(w, status, groupView(&g.Group, g.MemberIds, true))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if !requireManager(w, r) {
		return
	}
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Users.DeleteGroup(r.Context(), s.cfg.Sessions, auth.FromContext(r.Context()), id); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

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

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tags, err := s.cfg.Inbox.Tags(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

func (s *Server) addTag(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Tag string `json:"tag"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	s.setTag(w, r, req.Tag, true)
}

func (s *Server) removeTag(w http.ResponseWriter, r *http.Request) {
	s.setTag(w, r, r.PathValue("tag"), false)
}

func (s *Server) setTag(w http.ResponseWriter, r *http.Request, tag string, on bool) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tags, err := s.cfg.Inbox.SetTag(r.Context(), auth.FromContext(r.Context()), id, tag, on)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
}

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

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	serveConversationList(w, r, s.cfg.Inbox.History, historyView)
}

func historyView(h *db.ConversationHistory) map[string]any {
	return map[string]any{"id": h.ID, "conversation_id": h.ConversationID, "actor_id": h.ActorID,
		"action": h.Action, "details": json.RawMessage(h.Details), "created_at": h.CreatedAt}
}

// serveConversationList answers the GET routes that list something of one conversation: the id
// from the path, ?limit=, the caller (whose permission load checks) and each row as its view.
func serveConversationList[T any](w http.ResponseWriter, r *http.Request,
	load func(context.Context, *auth.Principal, int64, int) ([]T, error), view func(*T) map[string]any) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := pageSize(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := load(r.Context(), auth.FromContext(r.Context()), id, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	data := make([]any, len(rows))
	for i := range rows {
		data[i] = view(&rows[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
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

// lockView is a conversation's composer lock as lists show it (null when free or expired).
func lockView(c *db.Conversation) any {
	if c.LockedBy == nil || c.LockExpiresAt == nil || !c.LockExpiresAt.After(time.Now()) {
		return nil
	}
	return map[string]any{"locked_by": *c.LockedBy, "expires_at": c.LockExpiresAt.UTC()}
}

// canWriteMessage checks that the caller may write to the conversation of message id.
func (s *Server) canWriteMessage(r *http.Request, id int64) error {
	msg, err := s.cfg.Inbox.GetMessage(r.Context(), id)
	if err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	row, err := s.cfg.Inbox.GetConversation(r.Context(), msg.ConversationID)
	if err != nil {
		return err
	}
	ref := auth.ConversationRef{AssigneeID: row.Conversation.AssigneeID, GroupID: row.Conversation.GroupID}
	if !auth.CanReadConversation(p, ref) {
		return fmt.Errorf("message %d: %w", id, inbox.ErrNotFound)
	}
	if !auth.CanWriteConversation(p, ref) {
		return fmt.Errorf("you may not write to conversation %d: %w", msg.ConversationID, inbox.ErrForbidden)
	}
	return nil
}
