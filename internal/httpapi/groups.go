package httpapi

import (
	"net/http"

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
	data := make([]any, len(rows))
	for i := range rows {
		data[i] = groupView(&rows[i].Group, rows[i].MemberIds, members)
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
