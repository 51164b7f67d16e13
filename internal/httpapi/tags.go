package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of a conversation's tags.

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
	writeJSON(w, http.StatusOK, tagsJSON{Tags: tags})
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
	writeJSON(w, http.StatusOK, tagsJSON{Tags: tags})
}

// tagsJSON is a conversation's tags, as every tag route answers them.
type tagsJSON struct {
	Tags []string `json:"tags"`
}
