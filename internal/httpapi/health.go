package httpapi

import (
	"net/http"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/health"
)

// Handler of the detailed health (health.Checker decides who may read it). The answer is 200
// while the system works, degraded included, and 503 when a component is down, so that a load
// balancer or a status page can read the status code alone.

func (s *Server) detailedHealth(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Health.Detailed(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if rep.Status == health.StatusDown {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, rep)
}
