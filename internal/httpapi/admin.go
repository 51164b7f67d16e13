package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/wainbox/wainbox/internal/auth"
)

// requireAdminBrowser guards the admin UI (River UI), which a browser loads directly and which
// therefore cannot send a bearer token: it takes an admin's email and password by HTTP Basic
// authentication, the browser's own login prompt. Because browsers resend Basic credentials on
// cross-site requests too, unsafe methods must also pass Go's cross-origin protection
// (Sec-Fetch-Site / Origin), so another site cannot make an admin's browser retry or delete jobs.
// The password is checked like a login's (pw: the same throttle, failures counted and logged, the
// same bcrypt slots), so River UI is no way around the login's limits.
func requireAdminBrowser(pw *passwords, timeout time.Duration, next http.Handler) http.Handler {
	cache := &credentialCache{ttl: time.Minute, entries: map[[32]byte]time.Time{}}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{Status: http.StatusForbidden, Code: "cross_origin_request",
			Message: "cross-origin requests may not change anything here; use River UI from its own page"})
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No other site may frame the admin UI to trick an admin into clicking in it.
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		email, password, ok := r.BasicAuth()
		if ok {
			// River UI keeps no request deadline (withTimeout), but the password check is an
			// ordinary database call and must not hang on a frozen database.
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			var err error
			ok, err = cache.check(r.WithContext(ctx), pw, email, password)
			cancel()
			if err != nil {
				writeError(w, r, err)
				return
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="wainbox admin", charset="UTF-8"`)
			writeError(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "log in with an admin's email and password"})
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// credentialCache remembers recently verified admin credentials for a minute: River UI polls
// several endpoints a second, and a bcrypt comparison per request would cost a core. Only a hash
// of email and password is kept, and a disabled or demoted admin is out within the TTL. A
// remembered proof does not outlast a lock: every use asks the throttle whether the account or
// the address has been locked since.
type credentialCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[[32]byte]time.Time
}

// check reports whether email and password are an enabled admin's. Its error is not a wrong
// password but a refusal (a lock: *auth.ThrottledError; no bcrypt slot: auth.ErrBusy) or a failed
// check (the database unreachable), which the caller answers as such rather than with a login
// prompt.
func (c *credentialCache) check(r *http.Request, pw *passwords, email, password string) (bool, error) {
	key := sha256.Sum256([]byte(email + "\x00" + password))
	c.mu.Lock()
	exp, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Now().Before(exp) {
		if err := pw.locked(r, entranceRiverUI, email); err != nil {
			return false, err
		}
		return true, nil
	}
	u, err := pw.check(r, entranceRiverUI, email, password)
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if u.Role != auth.RoleAdmin {
		logger(r).Warn("river ui refused: not an admin", "email", email, "role", u.Role)
		return false, nil
	}
	c.mu.Lock()
	if len(c.entries) > 1000 {
		clear(c.entries)
	}
	c.entries[key] = time.Now().Add(c.ttl)
	c.mu.Unlock()
	return true, nil
}
