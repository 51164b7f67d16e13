package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of users: listing and managing them, and an agent's own availability. Who may read and
// change whom is decided in internal/auth; handlers parse and render.

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

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.cfg.Users.List(r.Context(), auth.FromContext(r.Context()))
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
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	u, err := s.cfg.Users.GetWithGroups(r.Context(), auth.FromContext(r.Context()), id)
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
	u, err := s.cfg.Users.SetAvailability(r.Context(), auth.FromContext(r.Context()), req.Availability)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"availability": u.Availability})
}

func userView(u *db.User) map[string]any {
	return map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "role": u.Role}
}
