package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/templates"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Handlers of message templates: the copy of Meta's templates agents send from, kept by sync and
// webhooks, and their creation and deletion at Meta by those who manage templates.

// templateJSON is a template as the API shows it: Meta's fields, wainbox's id, and when it last
// changed and was last seen at Meta.
type templateJSON struct {
	ID              int64           `json:"id"`
	MetaID          string          `json:"meta_id"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Category        string          `json:"category"`
	Status          string          `json:"status"`
	ParameterFormat string          `json:"parameter_format"`
	Components      json.RawMessage `json:"components"`
	RejectedReason  string          `json:"rejected_reason,omitempty"`
	UpdatedAt       time.Time       `json:"updated_at"`
	SyncedAt        time.Time       `json:"synced_at"`
}

func templateView(t *db.MessageTemplate) templateJSON {
	return templateJSON{
		ID: t.ID, MetaID: t.MetaID, Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
		ParameterFormat: t.ParameterFormat, Components: t.Components, RejectedReason: t.RejectedReason,
		UpdatedAt: t.UpdatedAt, SyncedAt: t.SyncedAt,
	}
}

type templateListJSON struct {
	Data []templateJSON `json:"data"`
}

// listTemplates is GET /api/templates?status=APPROVED&language=en_US&name=order (a name prefix).
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rows, err := s.cfg.Templates.List(r.Context(), auth.FromContext(r.Context()), templates.Filter{
		Status: q.Get("status"), Language: q.Get("language"), NamePrefix: q.Get("name"),
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := templateListJSON{Data: make([]templateJSON, len(rows))}
	for i := range rows {
		out.Data[i] = templateView(&rows[i])
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	row, err := s.cfg.Templates.Get(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, templateView(&row))
}

// createTemplate is POST /api/templates with a template in Meta's creation shape (name, language,
// category, components): it is checked as Meta checks it, submitted to Meta and stored PENDING
// until Meta's verdict arrives by webhook.
func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) {
	var t waformat.Template
	if err := decodeJSON(w, r, &t); err != nil {
		writeError(w, r, err)
		return
	}
	row, err := s.cfg.Templates.Create(r.Context(), auth.FromContext(r.Context()), &t)
	if err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("template created at Meta", "template_id", row.ID, "name", row.Name, "language", row.Language, "status", row.Status)
	writeJSON(w, http.StatusCreated, templateView(&row))
}

// deleteTemplate deletes the template at Meta with every language of its name (Meta deletes by
// name).
func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cfg.Templates.Delete(r.Context(), auth.FromContext(r.Context()), id); err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("template deleted at Meta", "template_id", id)
	w.WriteHeader(http.StatusNoContent)
}

// syncTemplates copies every template from Meta now (the leader also does it every hour).
func (s *Server) syncTemplates(w http.ResponseWriter, r *http.Request) {
	res, err := s.cfg.Templates.SyncFor(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
