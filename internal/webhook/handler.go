// Package webhook is Meta's side of wainbox: the webhook endpoint that verifies a POST's
// signature and durably stores its raw bytes with a process_webhook job before answering 200 (the
// transactional inbox), the parser that reads a stored payload element by element, and the
// Processor that applies it to the inbox.
package webhook

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// MaxBodyBytes bounds a webhook body. Meta's batches stay far below it; a larger body is refused
// with 413 before it is buffered whole, and the buffer grows only as bytes arrive.
const MaxBodyBytes = 3 << 20

// Config holds the Handler's dependencies.
type Config struct {
	// Pool is where webhooks are stored; *pgxpool.Pool is one.
	Pool database.Beginner
	// Queue inserts the process_webhook job in the intake transaction; *river.Client[pgx.Tx] is one.
	Queue inbox.Queue
	// AppSecret is the Meta app secret that signs webhooks (WHATSAPP_APP_SECRET).
	AppSecret string
	// VerifyToken is the token Meta echoes when the webhook is subscribed (WHATSAPP_VERIFY_TOKEN).
	VerifyToken string
	Logger      *slog.Logger
	// StoreTimeout bounds the intake transaction (default 5s): past it the answer is 503 and Meta
	// retries, rather than holding Meta's connection while the database is unreachable.
	StoreTimeout time.Duration
	// Registerer receives the intake's counters (metrics.go); nil registers nothing.
	Registerer prometheus.Registerer
}

// Handler serves GET and POST /webhooks/whatsapp. It satisfies httpapi.Webhook and can be mounted
// on its own (http.HandlerFunc(h.Receive)).
type Handler struct {
	pool         database.Beginner
	queue        inbox.Queue
	secret       []byte
	verifyToken  []byte
	logger       *slog.Logger
	storeTimeout time.Duration
	metrics      *intakeMetrics
}

// New validates cfg and returns a Handler.
func New(cfg *Config) (*Handler, error) {
	if cfg.Pool == nil || cfg.Queue == nil {
		return nil, errors.New("webhook: Pool and Queue are required")
	}
	if cfg.AppSecret == "" {
		return nil, errors.New("webhook: AppSecret is required to check signatures")
	}
	h := &Handler{
		pool:         cfg.Pool,
		queue:        cfg.Queue,
		secret:       []byte(cfg.AppSecret),
		verifyToken:  []byte(cfg.VerifyToken),
		logger:       cfg.Logger,
		storeTimeout: cfg.StoreTimeout,
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.storeTimeout <= 0 {
		h.storeTimeout = 5 * time.Second
	}
	var err error
	if h.metrics, err = newIntakeMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	return h, nil
}

// Verify answers Meta's subscription check: with hub.mode=subscribe and the configured verify
// token it echoes hub.challenge as plain text; anything else is 403.
func (h *Handler) Verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := []byte(q.Get("hub.verify_token"))
	if q.Get("hub.mode") != "subscribe" || len(h.verifyToken) == 0 ||
		subtle.ConstantTimeCompare(token, h.verifyToken) != 1 {
		h.logger.WarnContext(r.Context(), "webhook verification refused", "mode", q.Get("hub.mode"))
		writeError(w, http.StatusForbidden, "forbidden", "hub.mode must be subscribe and hub.verify_token must match")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// Receive is the intake: read the raw body (413 above MaxBodyBytes), check its signature over
// those exact bytes (401), check that it is a WhatsApp notification (400), then store it with its
// job in one transaction and answer 200 only after the commit; when that fails the answer is 503,
// so Meta delivers again. Nothing is stored on any refusal, and nothing is parsed beyond "object".
func (h *Handler) Receive(w http.ResponseWriter, r *http.Request) {
	h.metrics.received.Inc()
	ctx := r.Context()
	if r.ContentLength > MaxBodyBytes {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes), nil)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes), nil)
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The server's body deadline passed (httpapi): the connection cannot serve another request.
			w.Header().Set("Connection", "close")
			h.refuse(w, r, http.StatusRequestTimeout, "request_timeout", "the body did not arrive in time", nil)
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "unreadable_body", "the body could not be read", err)
		return
	}
	sig := r.Header.Get(whatsapp.SignatureHeader)
	if sig == "" {
		h.refuse(w, r, http.StatusUnauthorized, "missing_signature", "the "+whatsapp.SignatureHeader+" header is required", nil)
		return
	}
	if !whatsapp.VerifySignature(h.secret, body, sig) {
		h.refuse(w, r, http.StatusUnauthorized, "invalid_signature", "the signature does not match the body", nil)
		return
	}
	if code, msg := checkObject(body); code != "" {
		h.refuse(w, r, http.StatusBadRequest, code, msg, nil)
		return
	}
	// A caller that hangs up must not cut a commit short: Meta redelivers anyway, and the
	// duplicate check makes the second copy free.
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.storeTimeout)
	defer cancel()
	st, err := h.Store(storeCtx, body)
	if err != nil {
		// An outage is expected to pass and Meta redelivers: a warning, not an error.
		level := slog.LevelError
		if database.Unavailable(err) {
			level = slog.LevelWarn
		}
		h.logger.Log(ctx, level, "webhook not stored; answering 503 so Meta retries", "bytes", len(body), "error", err)
		w.Header().Set("Retry-After", "5")
		h.metrics.refused.WithLabelValues("unavailable").Inc()
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the webhook could not be stored; retry later")
		return
	}
	if st.Duplicate {
		h.logger.DebugContext(ctx, "webhook already stored", "bytes", len(body))
	} else {
		h.logger.DebugContext(ctx, "webhook stored", "webhook_event_id", st.EventID, "bytes", len(body))
	}
	h.metrics.stored.Inc()
	w.WriteHeader(http.StatusOK)
}

// Store runs the intake transaction for a body whose signature was checked (see the package
// function Store).
func (h *Handler) Store(ctx context.Context, body []byte) (Stored, error) {
	return Store(ctx, h.pool, h.queue, body)
}

// readBody reads the body whole. Its buffer grows with the bytes that arrive, never to the size
// Content-Length announces: anyone can announce 3 MiB and send nothing.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
}

// checkObject accepts a JSON object whose "object" is a WhatsApp Business Account's. It returns an
// error code and message otherwise.
func checkObject(body []byte) (code, message string) {
	var n struct {
		Object string `json:"object"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return "invalid_json", "the body is not a JSON object"
	}
	if n.Object != ObjectWhatsApp {
		return "unsupported_object", "object must be " + ObjectWhatsApp
	}
	return "", ""
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, code, message string, err error) {
	attrs := []any{"status", status, "code", code, "bytes", r.ContentLength}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	h.logger.WarnContext(r.Context(), "webhook refused", attrs...)
	h.metrics.refused.WithLabelValues(code).Inc()
	writeError(w, status, code, message)
}

// writeError answers in wainbox's error shape, {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
