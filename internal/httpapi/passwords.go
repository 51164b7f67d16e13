package httpapi

import (
	"errors"
	"net/http"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// Entrances that check a password, as logs name them.
const (
	entranceLogin    = "login"
	entranceRiverUI  = "river_ui"
	entrancePassword = "password_change"
)

// passwords checks the passwords of every entrance through one auth.Logins (the same throttle,
// the same bcrypt slots) and logs what tracing an attack needs: every failure and refusal, with
// the email, the client's address and the entrance, never the password.
type passwords struct {
	logins *auth.Logins
	addr   clientAddr
}

// check proves email and password at entrance; see auth.Logins.Check for its errors.
func (p *passwords) check(r *http.Request, entrance, email, password string) (db.User, error) {
	ip := p.addr.of(r)
	user, err := p.logins.Check(r.Context(), email, password, ip)
	logCheck(r, entrance, ip, err, "email", email)
	return user, err
}

// locked answers an *auth.ThrottledError when email, or the client's address, is locked out now.
func (p *passwords) locked(r *http.Request, entrance, email string) error {
	ip := p.addr.of(r)
	err := p.logins.Locked(r.Context(), email, ip)
	logCheck(r, entrance, ip, err, "email", email)
	return err
}

// logCheck logs the outcome of a password check that did not succeed because of the caller (or of
// a burst of callers); failures of the check itself are logged where they are answered. who names
// the account when the request's logger does not (it carries user_id once authenticated).
func logCheck(r *http.Request, entrance, ip string, err error, who ...any) {
	var te *auth.ThrottledError
	args := append([]any{"entrance", entrance, "ip", ip}, who...)
	switch {
	case err == nil:
	case errors.As(err, &te):
		logger(r).Warn("login throttled", append(args, "retry_after_s", te.RetryAfterSeconds())...)
	case errors.Is(err, auth.ErrInvalidCredentials):
		// The attempt is a row of login_failures: the failure the throttle counts.
		logger(r).Warn("login failed", args...)
	case errors.Is(err, auth.ErrBusy):
		logger(r).Warn("login refused: too many password checks under way", args...)
	}
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword is POST /api/me/password: the caller changes their own password, proving the
// current one (throttled like a login). Every other session of the caller ends; this one stays.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var req changePasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	ip := s.clientAddr.of(r)
	err := s.passwords.logins.ChangePassword(r.Context(), s.cfg.Sessions, auth.FromContext(r.Context()), req.CurrentPassword, req.NewPassword, ip)
	if err != nil {
		logCheck(r, entrancePassword, ip, err)
		if errors.Is(err, auth.ErrInvalidCredentials) {
			// Not a 401: the access token is good, and a panel that took this answer for a dead
			// session would log its user out.
			err = &apiError{Status: http.StatusForbidden, Code: "invalid_credentials", Field: "current_password",
				Message: "current_password is not your password"}
		}
		writeError(w, r, err)
		return
	}
	logger(r).Info("password changed; other sessions revoked", "ip", ip)
	w.WriteHeader(http.StatusNoContent)
}
