// Package httpapi is wainbox's HTTP surface: one route table for the agent API, the webhook, the
// WebSocket, the admin UI and the simulator, the middleware every request passes, and the mapping
// of domain errors to JSON answers.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/health"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/quickreplies"
	"github.com/wainbox/wainbox/internal/reports"
	"github.com/wainbox/wainbox/internal/templates"
)

// Access says who may call a route.
type Access int

// Access levels, from open to narrow.
const (
	Public        Access = iota // no token: health, login, Meta's webhook, the simulator
	Authenticated               // a bearer access token
	AdminBrowser                // an admin's email and password by HTTP Basic auth (River UI in a browser)
	MetricsReader               // METRICS_TOKEN as a bearer (Prometheus), or a user with can_view_metrics
)

// Route is one entry of the route table.
type Route struct {
	Pattern string // a net/http ServeMux pattern with method, e.g. "GET /api/conversations/{id}"
	Access  Access
	Handler http.Handler
}

// Webhook is Meta's webhook endpoint.
type Webhook interface {
	Verify(http.ResponseWriter, *http.Request)
	Receive(http.ResponseWriter, *http.Request)
}

// Config holds the server's dependencies. Webhook, Realtime, Simulator, Panel and RiverUI are optional:
// their routes exist only when they are set.
type Config struct {
	Inbox     *inbox.Service
	Users     *auth.Users
	Templates *templates.Service
	// QuickReplies are agents' saved responses (quickreplies.go).
	QuickReplies *quickreplies.Service
	// Sessions authenticates every protected request (session live, user enabled, current
	// permissions); Logins checks the passwords of every entrance (throttled, bounded bcrypt);
	// LockTTL is the life of a conversation lock (CONVERSATION_LOCK_TTL).
	Sessions *auth.Sessions
	Logins   *auth.Logins
	LockTTL  time.Duration
	Logger   *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES; see clientip.go).
	TrustedProxies []netip.Prefix
	// Ready reports whether the instance can serve traffic. /readyz logs its error and shows only
	// the component a NotReadyError names.
	Ready     func(ctx context.Context) error
	Webhook   Webhook
	Realtime  http.Handler // GET /api/ws
	Simulator http.Handler // everything under /simulator/
	// Panel is the agent panel: GET / and its assets under /assets/ (internal/panel).
	Panel   http.Handler
	RiverUI http.Handler // everything under /admin/river/
	// Metrics serves Prometheus metrics at GET /metrics; MetricsToken is the static bearer a
	// scraper presents (empty: only users with can_view_metrics may read them).
	Metrics      http.Handler
	MetricsToken string
	// HTTPMetrics counts requests by route; nil counts nothing.
	HTTPMetrics *HTTPMetrics
	// Health builds GET /api/health/detailed (health.go); nil: the route does not exist.
	Health *health.Checker
	// Reports answers the supervisors' reports (reports.go); nil: the routes do not exist.
	Reports *reports.Service
	// RequestTimeout is the deadline of every request but the WebSocket's and River UI's
	// (HTTP_REQUEST_TIMEOUT): past it database calls end and the answer is 503.
	RequestTimeout time.Duration
	// BodyTimeout is how long a request body may take to arrive whole (HTTP_BODY_TIMEOUT);
	// MaxPublicBodies caps the bodies of unauthenticated callers (the webhook, login, refresh) read
	// at once (HTTP_MAX_PUBLIC_BODIES). See bodies.go.
	//
	// LockTTL, RequestTimeout, BodyTimeout and MaxPublicBodies are required: their defaults are
	// config's.
	BodyTimeout     time.Duration
	MaxPublicBodies int
	// MediaTimeout bounds a file's upload or download through the API (MEDIA_TRANSFER_TIMEOUT),
	// in place of RequestTimeout and BodyTimeout (media.go).
	MediaTimeout time.Duration
}

// Server handles wainbox's HTTP requests.
type Server struct {
	cfg    Config
	routes []Route
	mux    *http.ServeMux
	// publicBodies is the cap on unauthenticated bodies being read.
	publicBodies *bodyLimiter
	// clientAddr finds the client behind a request (TRUSTED_PROXIES); passwords checks the
	// passwords of every entrance with it.
	clientAddr clientAddr
	passwords  *passwords
}

// New validates cfg and builds the route table.
func New(cfg *Config) (*Server, error) {
	if cfg.Inbox == nil || cfg.Users == nil || cfg.Templates == nil || cfg.QuickReplies == nil || cfg.Sessions == nil || cfg.Logins == nil {
		return nil, errors.New("httpapi: Inbox, Users, Templates, QuickReplies, Sessions and Logins are required")
	}
	if cfg.LockTTL <= 0 || cfg.RequestTimeout <= 0 || cfg.BodyTimeout <= 0 || cfg.MaxPublicBodies <= 0 || cfg.MediaTimeout <= 0 {
		return nil, errors.New("httpapi: LockTTL, RequestTimeout, BodyTimeout, MaxPublicBodies and MediaTimeout must be positive")
	}
	s := &Server{cfg: *cfg, clientAddr: clientAddr{trusted: cfg.TrustedProxies}}
	s.passwords = &passwords{logins: cfg.Logins, addr: s.clientAddr}
	if s.cfg.Logger == nil {
		s.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Ready == nil {
		s.cfg.Ready = func(context.Context) error { return nil }
	}
	s.publicBodies = newBodyLimiter(s.cfg.MaxPublicBodies)
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		h := rt.Handler
		switch rt.Access {
		case Authenticated:
			h = requireAuth(s.cfg.Sessions)(h)
		case AdminBrowser:
			h = requireAdminBrowser(s.passwords, s.cfg.RequestTimeout, h)
		case MetricsReader:
			h = requireMetricsReader(s.cfg.MetricsToken, s.cfg.Sessions, h)
		case Public:
			// Anyone may send a body to a public POST route: only so many are read at once.
			if strings.HasPrefix(rt.Pattern, http.MethodPost+" ") {
				h = s.publicBodies.limit(h)
			}
		}
		s.mux.Handle(rt.Pattern, h)
	}
	return s, nil
}

// routeTable is every route wainbox serves. Tests enumerate it, so a new route cannot be added
// without deciding who may call it.
func (s *Server) routeTable() []Route {
	hf := func(f http.HandlerFunc) http.Handler { return f }
	routes := []Route{
		{"GET /healthz", Public, hf(s.healthz)},
		{"GET /readyz", Public, hf(s.readyz)},
		{"POST /api/auth/login", Public, noStore(hf(s.login))},
		{"GET /api/conversations", Authenticated, hf(s.listConversations)},
		{"POST /api/conversations", Authenticated, hf(s.startConversation)},
		{"GET /api/conversations/unread", Authenticated, hf(s.unreadCount)},
		{"GET /api/conversations/{id}", Authenticated, hf(s.getConversation)},
		{"GET /api/conversations/{id}/messages", Authenticated, hf(s.listMessages)},
		{"POST /api/conversations/{id}/messages", Authenticated, hf(s.sendMessage)},
		{"GET /api/messages/{id}", Authenticated, hf(s.getMessage)},
		{"POST /api/messages/{id}/retry", Authenticated, hf(s.retryMessage)},
		// Files: an upload to send in a conversation, and any message's file (media.go).
		{"POST /api/conversations/{id}/media", Authenticated, hf(s.uploadMedia)},
		{"GET /api/media/{id}", Authenticated, hf(s.getMedia)},
		// Marking read sends the customer a read receipt: a write, which the domain decides.
		{"POST /api/conversations/{id}/read", Authenticated, hf(s.markConversationRead)},
		// Sessions, users, groups and the team's work on conversations.
		{"POST /api/auth/refresh", Public, noStore(hf(s.refresh))},
		{"POST /api/auth/logout", Authenticated, hf(s.logout)},
		{"GET /api/auth/session", Authenticated, hf(s.session)},
		{"GET /api/users", Authenticated, hf(s.listUsers)},
		// Everyone's colleagues by name, to show who holds a conversation or its lock (users.go).
		{"GET /api/colleagues", Authenticated, hf(s.listColleagues)},
		{"POST /api/users", Authenticated, hf(s.createUser)},
		{"GET /api/users/{id}", Authenticated, hf(s.getUser)},
		{"PATCH /api/users/{id}", Authenticated, hf(s.updateUser)},
		{"POST /api/users/{id}/revoke-sessions", Authenticated, hf(s.revokeUserSessions)},
		{"PATCH /api/me/availability", Authenticated, hf(s.setAvailability)},
		{"POST /api/me/password", Authenticated, hf(s.changePassword)},
		{"GET /api/groups", Authenticated, hf(s.listGroups)},
		{"POST /api/groups", Authenticated, hf(s.createGroup)},
		{"PATCH /api/groups/{id}", Authenticated, hf(s.updateGroup)},
		{"DELETE /api/groups/{id}", Authenticated, hf(s.deleteGroup)},
		{"POST /api/conversations/{id}/status", Authenticated, hf(s.setConversationStatus)},
		{"POST /api/conversations/{id}/takeover", Authenticated, hf(s.takeover)},
		{"POST /api/conversations/{id}/release", Authenticated, hf(s.release)},
		{"POST /api/conversations/{id}/assign", Authenticated, hf(s.assign)},
		{"GET /api/conversations/{id}/lock", Authenticated, hf(s.getLock)},
		{"POST /api/conversations/{id}/lock", Authenticated, hf(s.acquireLock)},
		{"DELETE /api/conversations/{id}/lock", Authenticated, hf(s.releaseLock)},
		{"GET /api/conversations/{id}/tags", Authenticated, hf(s.listTags)},
		{"POST /api/conversations/{id}/tags", Authenticated, hf(s.addTag)},
		{"DELETE /api/conversations/{id}/tags/{tag}", Authenticated, hf(s.removeTag)},
		{"GET /api/conversations/{id}/notes", Authenticated, hf(s.listNotes)},
		{"POST /api/conversations/{id}/notes", Authenticated, hf(s.addNote)},
		{"GET /api/conversations/{id}/history", Authenticated, hf(s.history)},
		{"POST /api/conversations/{id}/bot", Authenticated, hf(s.setConversationBot)}, // bot.go
		{"GET /api/templates", Authenticated, hf(s.listTemplates)},
		{"POST /api/templates", Authenticated, hf(s.createTemplate)},
		{"POST /api/templates/sync", Authenticated, hf(s.syncTemplates)},
		{"GET /api/templates/{id}", Authenticated, hf(s.getTemplate)},
		{"DELETE /api/templates/{id}", Authenticated, hf(s.deleteTemplate)},
		// Quick replies: who sees and changes which is the domain's (quickreplies.go).
		{"GET /api/quick-replies", Authenticated, hf(s.listQuickReplies)},
		{"POST /api/quick-replies", Authenticated, hf(s.createQuickReply)},
		{"GET /api/quick-replies/{id}", Authenticated, hf(s.getQuickReply)},
		{"PATCH /api/quick-replies/{id}", Authenticated, hf(s.updateQuickReply)},
		{"DELETE /api/quick-replies/{id}", Authenticated, hf(s.deleteQuickReply)},
		// Anything else under /api/ is a JSON 404 rather than ServeMux's plain-text one; it is
		// authenticated so unauthenticated callers learn nothing about which routes exist.
		{"/api/", Authenticated, hf(s.notFound)},
	}
	if s.cfg.Webhook != nil {
		routes = append(routes,
			Route{"GET /webhooks/whatsapp", Public, hf(s.cfg.Webhook.Verify)},
			Route{"POST /webhooks/whatsapp", Public, hf(s.cfg.Webhook.Receive)},
		)
	}
	if s.cfg.Realtime != nil {
		// The WebSocket authenticates in its first message, not with a header browsers cannot set.
		routes = append(routes, Route{"GET /api/ws", Public, s.cfg.Realtime})
	}
	if s.cfg.Simulator != nil {
		routes = append(routes, Route{"/simulator/", Public, s.cfg.Simulator})
	}
	if s.cfg.Panel != nil {
		// The page and its assets are public: they hold no data, and the panel logs in through
		// the API like any client.
		routes = append(routes,
			Route{"GET /{$}", Public, s.cfg.Panel},
			Route{"GET /assets/", Public, s.cfg.Panel},
		)
	}
	if s.cfg.RiverUI != nil {
		routes = append(routes, Route{"/admin/river/", AdminBrowser, s.cfg.RiverUI})
	}
	if s.cfg.Metrics != nil {
		routes = append(routes, Route{"GET /metrics", MetricsReader, s.cfg.Metrics})
	}
	if s.cfg.Reports != nil {
		// Who may read (can_view_reports) and export (can_export_data) is the service's decision.
		routes = append(routes,
			Route{"GET /api/reports/summary", Authenticated, hf(s.reportSummary)},
			Route{"GET /api/reports/conversations", Authenticated, hf(s.reportConversations)},
		)
	}
	if s.cfg.Health != nil {
		// Who may read it (admins, can_view_metrics) is the checker's decision.
		routes = append(routes, Route{"GET /api/health/detailed", Authenticated, hf(s.detailedHealth)})
	}
	return routes
}

// Routes returns the route table.
func (s *Server) Routes() []Route { return s.routes }

// Handler returns the server's handler with its middleware.
func (s *Server) Handler() http.Handler {
	return withRequestID(s.cfg.Logger)(withAccessLog(s.cfg.HTTPMetrics, withRecover(
		withBodyDeadline(s.cfg.BodyTimeout)(withCleanInput(withTimeout(s.cfg.RequestTimeout)(s.mux))))))
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthJSON{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		reason := "unknown"
		var nr *NotReadyError
		if errors.As(err, &nr) {
			reason = nr.Component
		}
		logger(r).Warn("not ready", "reason", reason, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, notReadyJSON{Status: "unavailable", Reason: reason})
		return
	}
	writeJSON(w, http.StatusOK, healthJSON{Status: "ready"})
}

// healthJSON is the answer of /healthz, and of /readyz when the instance is ready.
type healthJSON struct {
	Status string `json:"status"`
}

// notReadyJSON is the answer of /readyz when the instance is not ready: Reason names the
// component (see NotReadyError).
type notReadyJSON struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// NotReadyError is Config.Ready's error naming the component that is not ready ("database",
// "queue", "realtime"). /readyz is public: it answers the name alone, since the error itself may
// carry the database's user, name and address.
type NotReadyError struct {
	Component string
	Err       error
}

func (e *NotReadyError) Error() string { return e.Component + ": " + e.Err.Error() }

func (e *NotReadyError) Unwrap() error { return e.Err }

// noStore keeps the answers of h, which carry tokens, out of every cache.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such route: " + r.Method + " " + r.URL.Path})
}
