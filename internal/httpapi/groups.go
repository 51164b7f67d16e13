package httpapi

import (
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of groups (teams): everyone lists them, managers change them (decided in internal/auth).

// listGroups answers every group to every user (the panel offers them as assignment targets);
// only managers see the members.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	rows, members, err := s.cfg.Users.Groups(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	list := listJSON[groupJSON]{Data: make([]groupJSON, len(rows))}
	for i := range rows {
		list.Data[i] = groupView(&rows[i].Group, rows[i].MemberIds, members)
	}
	writeJSON(w, http.StatusOK, list)
}

// groupJSON is a group (team) as the API shows it.
type groupJSON struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	AutoAssign bool      `json:"auto_assign"`
	CreatedAt  time.Time `json:"created_at"`
	// MemberIDs are shown to those who manage users only: for anyone else the key is absent (nil,
	// omitted), while a group without members shows [] to those who may see them.
	MemberIDs []int64 `json:"member_ids,omitzero"`
}

func groupView(g *db.Group, members []int64, withMembers bool) groupJSON {
	v := groupJSON{ID: g.ID, Name: g.Name, AutoAssign: g.AutoAssign, CreatedAt: g.CreatedAt}
	if withMembers {
		v.MemberIDs = nonNil(members)
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
