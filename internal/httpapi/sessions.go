package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/wainbox/wainbox/internal/auth"
)

// Handlers of logins and sessions: log in, refresh, log out, and who the caller is.

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
	u, err := s.cfg.Users.Me(r.Context(), p)
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
