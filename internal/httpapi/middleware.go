package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wainbox/wainbox/internal/auth"
)

type (
	requestIDKey struct{}
	loggerKey    struct{}
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts a caller's X-Request-Id only when it is short and plain, so it can be
// logged and echoed without escaping.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// withRequestID gives every request an id (the caller's X-Request-Id, or a new one), echoes it in
// the response and puts a logger carrying it in the context.
func withRequestID(base *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if !validRequestID(id) {
				b := make([]byte, 12)
				_, _ = rand.Read(b)
				id = hex.EncodeToString(b)
			}
			w.Header().Set("X-Request-Id", id)
			ctx := context.WithValue(r.Context(), requestIDKey{}, id)
			ctx = context.WithValue(ctx, loggerKey{}, base.With("request_id", id))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (WebSocket hijacking, flushing).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withAccessLog logs one line per request: method, path (never the query, which may carry
// secrets such as Meta's verify token), status and duration.
func withAccessLog(m *HTTPMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusSwitchingProtocols // a hijacked WebSocket
		}
		m.observe(r, rec.status, time.Since(start))
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		logger(r).LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Int("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)))
	})
}

// withRecover turns a panic in a handler into a logged 500 instead of a dropped connection.
func withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger(r).Error("handler panicked", "panic", v, "stack", string(debug.Stack()))
				writeError(w, r, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticator turns an access token into the caller as they are now; *auth.Sessions is one.
type authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Principal, error)
}

// requireAuth admits requests carrying a valid bearer access token of a live session and puts the
// principal (with its current permissions) in the context; anything else is a 401 before the
// handler runs.
func requireAuth(sessions authenticator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			token, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || token == "" {
				writeError(w, r, errUnauthorized)
				return
			}
			p, err := sessions.Authenticate(r.Context(), token)
			switch {
			case errors.Is(err, auth.ErrExpiredToken):
				writeError(w, r, errExpired)
				return
			case errors.Is(err, auth.ErrSessionRevoked):
				writeError(w, r, errRevoked)
				return
			case errors.Is(err, auth.ErrInvalidToken):
				writeError(w, r, errUnauthorized)
				return
			case err != nil:
				writeError(w, r, err)
				return
			}
			ctx := auth.WithPrincipal(r.Context(), p)
			ctx = context.WithValue(ctx, loggerKey{}, logger(r).With("user_id", p.UserID))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// withTimeout gives every request a deadline d from now, so that a request waiting on a frozen
// database ends there and answers 503 (writeError) instead of holding the caller and a connection
// for as long as the freeze lasts. The WebSocket and River UI are long-lived and keep no deadline;
// neither does the simulator, which stands in for Meta and Google and must time out as they do. A
// handler that returns past the deadline without answering gets the 503 here; one that answered
// is not answered twice.
func withTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if untimed(r) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			timed := r.WithContext(ctx)
			g := &answerGuard{ResponseWriter: w}
			next.ServeHTTP(g, timed)
			// The mux records the matched route on the request it was given; the access log and
			// the metrics read it from theirs.
			r.Pattern = timed.Pattern
			if !g.answered && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				writeError(w, timed, ctx.Err())
			}
		})
	}
}

// untimed reports whether r is one of the routes withTimeout leaves without a deadline.
func untimed(r *http.Request) bool {
	p := r.URL.Path
	return mediaTransfer(r) || (r.Method == http.MethodGet && p == "/api/ws") ||
		p == "/admin/river" || strings.HasPrefix(p, "/admin/river/") ||
		strings.HasPrefix(p, "/simulator/")
}

// answerGuard notes whether the handler has started its answer.
type answerGuard struct {
	http.ResponseWriter
	answered bool
}

func (g *answerGuard) WriteHeader(code int) {
	g.answered = true
	g.ResponseWriter.WriteHeader(code)
}

func (g *answerGuard) Write(b []byte) (int, error) {
	g.answered = true
	return g.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (g *answerGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }
