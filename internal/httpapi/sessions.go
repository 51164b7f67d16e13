package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/wainbox/wainbox/db"
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
	writeJSON(w, http.StatusOK, tokenView(g, &user))
}

// tokenJSON is the answer of a login or a refresh: the session's tokens, and who logged in.
type tokenJSON struct {
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	ExpiresIn        int       `json:"expires_in"`
	ExpiresAt        time.Time `json:"expires_at"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	SessionID        string    `json:"session_id"`
	// User is who logged in; a refresh's answer has no user key.
	User *userJSON `json:"user,omitempty"`
}

// tokenView is g as its login (user) or refresh (user nil) answers it.
func tokenView(g *auth.Grant, user *db.User) tokenJSON {
	t := tokenJSON{
		AccessToken:      g.AccessToken,
		TokenType:        "Bearer",
		ExpiresIn:        int(time.Until(g.AccessExpiresAt).Round(time.Second).Seconds()),
		ExpiresAt:        g.AccessExpiresAt.UTC(),
		RefreshToken:     g.RefreshToken,
		RefreshExpiresAt: g.RefreshExpiresAt.UTC(),
		SessionID:        g.SessionID,
	}
	if user != nil {
		u := userView(user)
		t.User = &u
	}
	return t
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
	writeJSON(w, http.StatusOK, tokenView(g, nil))
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
	writeJSON(w, http.StatusOK, sessionJSON{
		User: adminUserView(&u), Role: p.Role, Permissions: p.Perms(), GroupIDs: nonNil(p.GroupIDs),
		SessionID: p.SessionID, ExpiresAt: p.ExpiresAt.UTC(),
	})
}

// sessionJSON is the caller's session: who they are, and what their session lets them do now.
type sessionJSON struct {
	User        adminUserJSON    `json:"user"`
	Role        string           `json:"role"`
	Permissions auth.Permissions `json:"permissions"`
	GroupIDs    []int64          `json:"group_ids"`
	SessionID   string           `json:"session_id"`
	ExpiresAt   time.Time        `json:"expires_at"`
}
