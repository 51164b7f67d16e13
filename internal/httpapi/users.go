package httpapi

import (
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of users: listing and managing them, and an agent's own availability. Who may read and
// change whom is decided in internal/auth; handlers parse and render.

// userJSON is a user as the login answers it: who logged in.
type userJSON struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

func userView(u *db.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role}
}

// adminUserJSON is a user as administrators (and the user themselves) see it: effective
// permissions, the overrides that produce them, groups and availability.
type adminUserJSON struct {
	userJSON
	Disabled         bool             `json:"disabled"`
	DisabledAt       *time.Time       `json:"disabled_at"`
	Availability     string           `json:"availability"`
	MaxConversations int32            `json:"max_conversations"`
	GroupIDs         []int64          `json:"group_ids"`
	Permissions      auth.Permissions `json:"permissions"`
	Overrides        overridesJSON    `json:"overrides"`
	CreatedAt        time.Time        `json:"created_at"`
}

// overridesJSON are a user's own permissions; null is the role's default.
type overridesJSON struct {
	CanReadChats       *string `json:"can_read_chats"`
	CanWriteChats      *string `json:"can_write_chats"`
	CanManageTemplates *bool   `json:"can_manage_templates"`
	CanManageUsers     *bool   `json:"can_manage_users"`
	CanViewMetrics     *bool   `json:"can_view_metrics"`
	CanUseTags         *bool   `json:"can_use_tags"`
	CanViewReports     *bool   `json:"can_view_reports"`
	CanExportData      *bool   `json:"can_export_data"`
}

func adminUserView(u *auth.UserWithGroups) adminUserJSON {
	return adminUserJSON{
		userJSON:         userView(&u.User),
		Disabled:         u.DisabledAt != nil,
		DisabledAt:       u.DisabledAt,
		Availability:     u.Availability,
		MaxConversations: u.MaxConversations,
		GroupIDs:         nonNil(u.GroupIDs),
		Permissions:      auth.Resolve(u.Role, overrides(&u.User)),
		Overrides: overridesJSON{
			CanReadChats: u.CanReadChats, CanWriteChats: u.CanWriteChats,
			CanManageTemplates: u.CanManageTemplates, CanManageUsers: u.CanManageUsers,
			CanViewMetrics: u.CanViewMetrics, CanUseTags: u.CanUseTags,
			CanViewReports: u.CanViewReports, CanExportData: u.CanExportData,
		},
		CreatedAt: u.CreatedAt,
	}
}

func overrides(u *db.User) auth.Overrides {
	return auth.Overrides{
		ReadChats: u.CanReadChats, WriteChats: u.CanWriteChats, ManageTemplates: u.CanManageTemplates,
		ManageUsers: u.CanManageUsers, ViewMetrics: u.CanViewMetrics, UseTags: u.CanUseTags,
		ViewReports: u.CanViewReports, ExportData: u.CanExportData,
	}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.cfg.Users.List(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	list := listJSON[adminUserJSON]{Data: make([]adminUserJSON, len(users))}
	for i := range users {
		list.Data[i] = adminUserView(&users[i])
	}
	writeJSON(w, http.StatusOK, list)
}

// colleagueJSON is a user as every user sees them: enough to name an assignee or a lock holder.
type colleagueJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) listColleagues(w http.ResponseWriter, r *http.Request) {
	users, err := s.cfg.Users.Directory(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	list := listJSON[colleagueJSON]{Data: make([]colleagueJSON, len(users))}
	for i, u := range users {
		list.Data[i] = colleagueJSON{ID: u.ID, Name: u.Name, Role: u.Role}
	}
	writeJSON(w, http.StatusOK, list)
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
	writeJSON(w, http.StatusOK, availabilityJSON{Availability: u.Availability})
}

// availabilityJSON is the caller's availability, as they set it.
type availabilityJSON struct {
	Availability string `json:"availability"`
}
