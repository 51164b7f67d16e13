package httpapi

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Request bodies cost the server memory and a goroutine for as long as they take to arrive, and
// the http.Server itself puts no deadline on them. Two limits keep a caller who announces a large
// body and sends it slowly, or never, from holding either: every body must arrive whole within a
// deadline, and only so many bodies of unauthenticated callers are read at once.

var errTooManyBodies = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
	Message: "too many requests are being received at once; retry shortly"}

// withBodyDeadline gives the body of every request that has one d from the start of its handler
// to arrive whole. A body still arriving at the deadline fails to read (decodeJSON answers 408)
// and the server closes the connection; a handler that answers without reading the body leaves
// the server at most d to discard it. Once a body has been read to its end net/http lifts the
// deadline itself, so a handler still working on a body that arrived in time is not cut short.
// Requests without a body, among them the WebSocket's upgrade, keep no deadline.
func withBodyDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || untimed(r) {
				next.ServeHTTP(w, r)
				return
			}
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
			next.ServeHTTP(w, r)
		})
	}
}

// bodyLimiter caps the bodies of unauthenticated callers (Meta's webhook, login, refresh) being
// read at once. Anyone can send those, so without a cap the memory their bodies take grows with
// the number of connections an attacker opens; with it, a request past the cap is answered 503
// with Retry-After at once, reading nothing, and its connection is closed.
type bodyLimiter struct {
	slots chan struct{}
}

func newBodyLimiter(n int) *bodyLimiter {
	return &bodyLimiter{slots: make(chan struct{}, n)}
}

// limit holds a slot for next while it reads its request's body: until the body is read to its
// end or fails, or next returns.
func (l *bodyLimiter) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case l.slots <- struct{}{}:
		default:
			w.Header().Set("Retry-After", retryAfterSeconds)
			w.Header().Set("Connection", "close")
			writeError(w, r, errTooManyBodies)
			return
		}
		body := &slotBody{ReadCloser: r.Body, release: sync.OnceFunc(func() { <-l.slots })}
		defer body.release()
		r.Body = body
		next.ServeHTTP(w, r)
	})
}

// slotBody gives its limiter's slot back once the body is read or closed.
type slotBody struct {
	io.ReadCloser
	release func()
}

func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *slotBody) Close() error {
	b.release()
	return b.ReadCloser.Close()
}
