package httpapi

import (
	"crypto/sha256"
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
func requireAdminBrowser(users *auth.Users, next http.Handler) http.Handler {
	cache := &credentialCache{ttl: time.Minute, entries: map[[32]byte]time.Time{}}
	protected := http.NewCrossOriginProtection().Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email, password, ok := r.BasicAuth()
		if !ok || !cache.check(r, users, email, password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="wainbox admin", charset="UTF-8"`)
			writeError(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "log in with an admin's email and password"})
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// credentialCache remembers recently verified admin credentials for a minute: River UI polls
// several endpoints a second, and a bcrypt comparison per request would cost a core. Only a hash
// of email and password is kept, and a disabled or demoted admin is out within the TTL.
type credentialCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[[32]byte]time.Time
}

func (c *credentialCache) check(r *http.Request, users *auth.Users, email, password string) bool {
	key := sha256.Sum256([]byte(email + "\x00" + password))
	c.mu.Lock()
	exp, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Now().Before(exp) {
		return true
	}
	u, err := users.Authenticate(r.Context(), email, password)
	if err != nil || u.Role != auth.RoleAdmin {
		return false
	}
	c.mu.Lock()
	if len(c.entries) > 1000 {
		clear(c.entries)
	}
	c.entries[key] = time.Now().Add(c.ttl)
	c.mu.Unlock()
	return true
}
