// Package realtime delivers the event log (internal/eventlog) to agents over WebSockets. It only
// reads: every instance's listener follows the log in commit order, woken by the doorbell's
// NOTIFY (or at once, for this instance's own commits), and hands each event to the sockets of the
// users allowed to see its conversation.
package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// TokenVerifier checks access tokens; *auth.Tokens is one.
type TokenVerifier interface {
	Verify(token string) (*auth.Principal, error)
}

// Config configures the fan-out. Zero durations and sizes take the defaults in brackets.
type Config struct {
	// Pool serves the reads of resuming clients.
	Pool *pgxpool.Pool
	// ListenerConnConfig is the listener's dedicated connection; nil copies the pool's settings.
	// Point it at PostgreSQL directly when the pool goes through a transaction-pooling proxy.
	ListenerConnConfig *pgx.ConnConfig
	Tokens             TokenVerifier
	// AllowedOrigins are the browser origins (scheme://host[:port]) a socket may be opened from:
	// the public base URL and the configured extra origins. Requests without an Origin header
	// (non-browser clients) are accepted; they cannot be driven by another site.
	AllowedOrigins []string
	Logger         *slog.Logger
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer

	PollInterval   time.Duration // safety poll of the listener [2s]
	AuthTimeout    time.Duration // for the auth message, then for the resume message [5s]
	PingInterval   time.Duration // keepalive pings [25s]
	PingTimeout    time.Duration // for the pong [10s]
	WriteTimeout   time.Duration // for one batch of writes to a socket [10s]
	ReadLimit      int64         // largest client message in bytes [4096]
	QueueSize      int           // undelivered messages per socket before it is closed as slow [1024]
	MaxReplay      int           // most events a resume replays; more answers reset [10000]
	MaxReplayAge   time.Duration // oldest cursor a resume accepts; older answers reset [24h]
	CursorInterval time.Duration // least time between cursor messages to one socket [10s]
	BatchSize      int           // events per read [500]
	StartTimeout   time.Duration // how long Start waits for the listener's first connection [15s]
	// MaxSocketsPerUser caps one user's authenticated sockets on this instance [20]: a socket
	// over it is closed with 4009 at its auth message. The default leaves room for an agent's
	// many tabs and stops one token from holding thousands of sockets.
	MaxSocketsPerUser int
	// MaxUnauthenticated caps the sockets of this instance still to send their auth message
	// [256]: over it the upgrade is refused with HTTP 503, before any socket exists.
	MaxUnauthenticated int
	// OnAccessChange is called when the log carries a session revocation or a permission change,
	// from any instance, before the hub acts on it: auth.Sessions forgets its cached principals.
	OnAccessChange func()
}

// Service is the real-time fan-out of one instance: the listener, the hub and the WebSocket
// endpoint.
type Service struct {
	cfg      Config
	pool     *pgxpool.Pool
	q        *db.Queries
	logger   *slog.Logger
	metrics  *Metrics
	hub      *Hub
	listener *listener
	origins  map[string]bool
	admitted *admission

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	stopped  bool
	sessions sync.WaitGroup
	stopOnce sync.Once
}

// New validates cfg, fills its defaults and registers the metrics.
func New(cfg *Config) (*Service, error) {
	c := *cfg
	if c.Pool == nil || c.Tokens == nil {
		return nil, errors.New("realtime: Pool and Tokens are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PollInterval, 2*time.Second)
	def(&c.AuthTimeout, 5*time.Second)
	def(&c.PingInterval, 25*time.Second)
	def(&c.PingTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.MaxReplayAge, 24*time.Hour)
	def(&c.CursorInterval, 10*time.Second)
	def(&c.StartTimeout, 15*time.Second)
	if c.ReadLimit <= 0 {
		c.ReadLimit = 4096
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.MaxReplay <= 0 {
		c.MaxReplay = 10_000
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.MaxSocketsPerUser <= 0 {
		c.MaxSocketsPerUser = 20
	}
	if c.MaxUnauthenticated <= 0 {
		c.MaxUnauthenticated = 256
	}
	origins := make(map[string]bool, len(c.AllowedOrigins))
	for _, o := range c.AllowedOrigins {
		n, ok := normalizeOrigin(o)
		if !ok {
			return nil, fmt.Errorf("realtime: %q is not an origin like https://panel.example.com", o)
		}
		origins[n] = true
	}
	connCfg := c.ListenerConnConfig
	if connCfg == nil {
		connCfg = c.Pool.Config().ConnConfig
	}
	connCfg = connCfg.Copy()
	if connCfg.RuntimeParams == nil {
		connCfg.RuntimeParams = map[string]string{}
	}
	connCfg.RuntimeParams["application_name"] = ListenerApplicationName

	m, err := newMetrics(c.Registerer)
	if err != nil {
		return nil, fmt.Errorf("error registering realtime metrics: %w", err)
	}
	s := &Service{cfg: c, pool: c.Pool, q: db.New(), logger: c.Logger, metrics: m, origins: origins,
		admitted: newAdmission(c.MaxUnauthenticated, c.MaxSocketsPerUser)}
	s.hub = newHub(m, c.QueueSize, c.CursorInterval)
	s.listener = newListener(connCfg, s.hub, c.Logger, m, c.PollInterval, c.BatchSize)
	s.listener.onAccessChange = c.OnAccessChange
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// ListenerApplicationName is the application_name of the listener's connection, which tells it
// apart in pg_stat_activity.
const ListenerApplicationName = "wainbox-listener"

// Start runs the listener and returns once it has connected and knows where the log ends, so
// that sockets opened afterwards get every later event.
func (s *Service) Start(ctx context.Context) error {
	s.listener.start(s.ctx)
	timer := time.NewTimer(s.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-s.hub.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("realtime listener did not start within %s: %w", s.cfg.StartTimeout, s.listener.ready())
	}
}

// Stop closes every socket with 1001 (going away: clients reconnect, to another instance, and
// resume) and stops the listener. It is safe to call more than once and without Start.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		s.cancel()
		s.listener.wait()
		done := make(chan struct{})
		go func() {
			s.sessions.Wait()
			close(done)
		}()
		// A socket's close handshake waits at most 10 s for a silent peer; do not hold shutdown
		// longer than that.
		select {
		case <-done:
		case <-time.After(12 * time.Second):
			s.logger.Warn("realtime: some sockets did not finish closing")
		}
	})
}

// Ready reports whether the listener is connected and reading (for /readyz).
func (s *Service) Ready() error { return s.listener.ready() }

// ListenerStatus reports the listener's connection, last read and lag.
func (s *Service) ListenerStatus() ListenerStatus { return s.listener.status() }

// Wake makes this instance's listener read the log now: pass it to Doorbell.WakeLocally so events
// committed here reach local sockets without the NOTIFY's round trip. It never blocks.
func (s *Service) Wake() { s.listener.wake() }

// Hub is the instance's hub.
func (s *Service) Hub() *Hub { return s.hub }

// Metrics are the fan-out's metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Handler is GET /api/ws.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveWS) }

func (s *Service) serveWS(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		n, ok := normalizeOrigin(origin)
		if !ok || !s.origins[n] {
			writeError(w, http.StatusForbidden, "forbidden_origin", "WebSocket connections are not accepted from origin "+origin)
			return
		}
	}
	// Refused before the upgrade, a flood of sockets that never authenticate costs no socket.
	if !s.admitted.open() {
		s.metrics.Refused.Inc()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "too_many_unauthenticated_sockets",
			"too many WebSockets on this instance are still to authenticate; retry shortly")
		return
	}
	// The Origin check above replaces the library's, which only accepts the request's own host.
	// Compression is off: events are a few hundred bytes, where per-message deflate costs more
	// CPU and memory (a flate state per socket) than it saves.
	sb := &smallBuffers{ResponseWriter: w}
	conn, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.admitted.release(0)
		return // Accept has answered the request
	}
	conn.SetReadLimit(s.cfg.ReadLimit)

	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		s.admitted.release(0)
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.sessions.Add(1)
	s.mu.Unlock()

	s.metrics.Sockets.Inc()
	sess := newSession(s, conn, sb.conn)
	// The session runs on a goroutine of its own and the handler returns: net/http's goroutine
	// for the connection (whose stack grew through the middleware and the upgrade) and its
	// connection object with its buffers are then freed, which is most of an idle socket's
	// memory.
	go func() {
		defer s.sessions.Done()
		defer s.metrics.Sockets.Dec()
		// Released before the gauge drops, so a socket no longer counted holds no slot either.
		defer func() { s.admitted.release(sess.slot) }()
		sess.run()
	}()
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// normalizeOrigin reduces an origin or URL to scheme://host[:port], lower case, without a
// default port, so configured origins and Origin headers compare exactly.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		return u.Scheme + "://" + net.JoinHostPort(host, port), true
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host, true
}
