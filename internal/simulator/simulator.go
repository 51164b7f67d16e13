// Package simulator fakes the outside world of wainbox for development, tests and
// benchmarks: Meta's Graph API (sends, with fault injection and status webhooks;
// message templates, their review and the 24-hour customer-service window; media
// upload, info and download, with download faults), a
// customer's phone (signed inbound webhooks) and Gemini. Everything goes over
// real HTTP so that the code under test is the code that runs in production.
package simulator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// Defaults are Meta's sample values, the same as in the shared webhook fixtures.
const (
	DefaultPhoneNumberID      = "106540352242922"
	DefaultDisplayPhoneNumber = "15550783881"
	DefaultBusinessAccountID  = "102290129340398"
	DefaultStatusDelay        = 20 * time.Millisecond
	DefaultWebhookRetryFor    = 10 * time.Minute

	// maxBodyBytes bounds every request body the simulator reads.
	maxBodyBytes = 1 << 20
)

// Config configures a Simulator.
type Config struct {
	// AccessToken is the bearer token the fake Graph API expects; "" accepts any
	// non-empty bearer token.
	AccessToken string
	// AppSecret signs the webhooks the simulator posts (X-Hub-Signature-256).
	// It is required when WebhookURL is set, as Meta always signs.
	AppSecret string
	// WebhookURL is where status and inbound webhooks are POSTed; "" posts nothing.
	WebhookURL string
	// PhoneNumberID is the business number's id; sends to any other id are refused
	// as Meta does. Default DefaultPhoneNumberID.
	PhoneNumberID string
	// DisplayPhoneNumber default DefaultDisplayPhoneNumber.
	DisplayPhoneNumber string
	// BusinessAccountID is the entry id of every webhook; default DefaultBusinessAccountID.
	BusinessAccountID string
	// AutoStatuses posts sent, delivered and read status webhooks after each
	// accepted send, each StatusDelay after the previous one.
	AutoStatuses bool
	// StatusDelay default DefaultStatusDelay.
	StatusDelay time.Duration
	// WebhookRetryFor is how long a status webhook that is refused (non-2xx) or
	// not reached keeps being redelivered, with backoff from 50 ms doubling up to
	// 5 s, before the simulator gives up on it. Meta retries for days; the default,
	// DefaultWebhookRetryFor, outlasts any outage a test or a demo plays, such as
	// a database that is down for a minute. Inbound messages from the fake phone
	// are posted once, so that their caller sees the webhook's own answer.
	WebhookRetryFor time.Duration
	// TemplateReviewDelay is how long a template created through the fake Graph
	// API stays PENDING before the simulator approves it and posts a
	// message_template_status_update webhook. Default DefaultTemplateReviewDelay;
	// negative: never, the template stays PENDING until SetTemplateStatus.
	TemplateReviewDelay time.Duration
	// EnforceWindow refuses free-form sends outside the 24-hour customer-service
	// window with Meta's error 131047 (see WindowSettings). Off by default: an
	// agent starts a conversation (POST /api/conversations) with free-form text to
	// a customer who never wrote, which Meta would refuse, and the repository's
	// tests and benchmarks do so. SetWindow and PUT /simulator/window change it at
	// run time.
	EnforceWindow bool
	// WindowFailAsync reports 131047 in a failed status webhook after accepting
	// the send, instead of in the answer (WindowSettings.FailAsync).
	WindowFailAsync bool
	// MediaURLTTL is how long a download URL of the fake media info stays valid; default
	// DefaultMediaURLTTL, as Meta's.
	MediaURLTTL time.Duration
	// HTTPClient posts the webhooks; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger defaults to a logger that discards everything.
	Logger *slog.Logger
}

// Send is one request received by the fake messages endpoint, accepted or refused.
// A mark-as-read request is recorded with Type "read" and ReadMessageID set.
type Send struct {
	At            time.Time `json:"at"`
	PhoneNumberID string    `json:"phone_number_id"`
	To            string    `json:"to,omitempty"`
	Type          string    `json:"type,omitempty"`
	// Body is the text of a text message, or the readable text of any other
	// type whose payload passed validation (waformat.Preview: "[Image] caption").
	Body                  string `json:"body,omitempty"`
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
	ReadMessageID         string `json:"read_message_id,omitempty"`
	// TemplateName and TemplateLanguage name the template of a template send;
	// Body is then the text the customer sees, parameters filled in.
	TemplateName     string `json:"template_name,omitempty"`
	TemplateLanguage string `json:"template_language,omitempty"`
	// WAMessageID is the wamid given to an accepted send; empty when refused.
	WAMessageID string `json:"wa_message_id,omitempty"`
	// ErrorCode is the Meta code answered, or 500 for a plain HTTP 500. A send
	// accepted and then failed by a status webhook (WindowSettings.FailAsync) has
	// both a WAMessageID and the ErrorCode of that webhook.
	ErrorCode int `json:"error_code,omitempty"`
	// Fault names the injected fault that decided the answer, if any:
	// "fail_next", "error_rate", "timeout", "client_gone" (the client hung up
	// during injected latency) or "lost_answer" (accepted, with a wamid and
	// statuses, but the connection was dropped instead of answered).
	Fault string `json:"fault,omitempty"`
	// Raw is the request body as received.
	Raw []byte `json:"raw"`
}

// Simulator is the fake Meta + phone + Gemini. Create it with New, serve
// Handler(), and Close it to stop its background webhook posting.
type Simulator struct {
	accessToken        string
	appSecret          []byte
	webhookURL         string
	phoneNumberID      string
	displayPhoneNumber string
	businessAccountID  string
	autoStatuses       bool
	statusDelay        time.Duration
	// templateReviewDelay is Config.TemplateReviewDelay with its default applied.
	templateReviewDelay time.Duration
	webhookRetryFor     time.Duration
	httpClient          *http.Client
	logger              *slog.Logger
	handler             http.Handler

	// ctx is cancelled by Close, stopping background posts and hanging requests.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu             sync.Mutex
	closed         bool
	faults         Faults
	sends          []Send
	sendsChanged   chan struct{} // closed and replaced on every recorded send
	geminiRequests []GeminiRequest
	// templates are the business account's message templates in id order;
	// nextTemplateID numbers the next one.
	templates      []*waformat.Template
	nextTemplateID int64
	// window says whether and how the 24-hour window is enforced.
	window WindowSettings
	// lastInbound is when each customer (wa_id) last wrote to the business number.
	lastInbound map[string]time.Time
	// media is the fake media store (media.go): files by media id, their ids oldest first and
	// their total size. mediaKey signs download URLs, which live mediaURLTTL.
	media       map[string]*mediaObject
	mediaOrder  []string
	mediaBytes  int64
	mediaKey    []byte
	mediaURLTTL time.Duration
	// phone is what customers sent through the fake phone, for the phone page (phonepage.go).
	phone []phoneEntry
	// number is how the business number is rated and whether the token has expired (number.go).
	number NumberSettings
}

// New checks the configuration, fills defaults and returns a Simulator.
func New(cfg *Config) (*Simulator, error) {
	if cfg == nil {
		return nil, errors.New("simulator config is nil")
	}
	s := &Simulator{
		accessToken:         cfg.AccessToken,
		appSecret:           []byte(cfg.AppSecret),
		webhookURL:          cfg.WebhookURL,
		phoneNumberID:       cmp.Or(cfg.PhoneNumberID, DefaultPhoneNumberID),
		number:              defaultNumber(),
		displayPhoneNumber:  cmp.Or(cfg.DisplayPhoneNumber, DefaultDisplayPhoneNumber),
		businessAccountID:   cmp.Or(cfg.BusinessAccountID, DefaultBusinessAccountID),
		autoStatuses:        cfg.AutoStatuses,
		statusDelay:         cfg.StatusDelay,
		webhookRetryFor:     cmp.Or(cfg.WebhookRetryFor, DefaultWebhookRetryFor),
		httpClient:          cfg.HTTPClient,
		logger:              cfg.Logger,
		sendsChanged:        make(chan struct{}),
		templateReviewDelay: cmp.Or(cfg.TemplateReviewDelay, DefaultTemplateReviewDelay),
		nextTemplateID:      firstTemplateID,
		window:              WindowSettings{Enforce: cfg.EnforceWindow, FailAsync: cfg.WindowFailAsync},
		lastInbound:         map[string]time.Time{},
		media:               map[string]*mediaObject{},
		mediaKey:            randomBytes(32),
		mediaURLTTL:         cmp.Or(cfg.MediaURLTTL, DefaultMediaURLTTL),
	}
	for _, t := range seedTemplates() {
		if _, err := s.addTemplateLocked(&t); err != nil {
			return nil, fmt.Errorf("error seeding simulator templates: %w", err)
		}
	}
	if s.statusDelay == 0 {
		s.statusDelay = DefaultStatusDelay
	}
	if s.statusDelay < 0 {
		return nil, fmt.Errorf("invalid simulator status delay %s", s.statusDelay)
	}
	if s.mediaURLTTL < 0 {
		return nil, fmt.Errorf("invalid simulator media URL lifetime %s", s.mediaURLTTL)
	}
	if s.webhookRetryFor < 0 {
		return nil, fmt.Errorf("invalid simulator webhook retry duration %s", s.webhookRetryFor)
	}
	if s.httpClient == nil {
		s.httpClient = &http.Client{Timeout: 10 * time.Second, Transport: whatsapp.NewTransport()}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.webhookURL != "" {
		u, err := url.Parse(s.webhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("invalid simulator webhook URL %q", s.webhookURL)
		}
		if len(s.appSecret) == 0 {
			return nil, errors.New("simulator app secret is required to sign webhooks")
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	return s, nil
}

// routes is the simulator's one route table.
func (s *Simulator) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /simulator/graph/{version}/{phone_number_id}/messages", s.handleGraphMessages)
	mux.HandleFunc("GET /simulator/graph/{version}/{waba_id}/message_templates", s.handleGetTemplates)
	mux.HandleFunc("POST /simulator/graph/{version}/{waba_id}/message_templates", s.handleCreateTemplate)
	mux.HandleFunc("DELETE /simulator/graph/{version}/{waba_id}/message_templates", s.handleDeleteTemplates)
	mux.HandleFunc("POST /simulator/graph/{version}/{phone_number_id}/media", s.handleMediaUpload)
	mux.HandleFunc("GET /simulator/graph/{version}/{media_id}", s.handleGraphObject)
	mux.HandleFunc("GET /simulator/number", s.handleGetNumber)
	mux.HandleFunc("PUT /simulator/number", s.handlePutNumber)
	mux.HandleFunc("DELETE /simulator/graph/{version}/{media_id}", s.handleMediaDelete)
	mux.HandleFunc("GET "+mediaDownloadPath, s.handleMediaDownload)
	mux.HandleFunc("POST /simulator/media/{media_id}/expire", s.handleExpireMedia)
	mux.HandleFunc("PUT /simulator/templates/status", s.handlePutTemplateStatus)
	mux.HandleFunc("GET /simulator/window", s.handleGetWindow)
	mux.HandleFunc("PUT /simulator/window", s.handlePutWindow)
	mux.HandleFunc("GET /simulator/customers/{wa_id}", s.handleGetCustomer)
	mux.HandleFunc("PUT /simulator/customers/{wa_id}", s.handlePutCustomer)
	mux.HandleFunc("GET /simulator/faults", s.handleGetFaults)
	mux.HandleFunc("PUT /simulator/faults", s.handlePutFaults)
	mux.HandleFunc("GET /simulator/sends", s.handleGetSends)
	mux.HandleFunc("DELETE /simulator/sends", s.handleDeleteSends)
	mux.HandleFunc("POST /simulator/phone/messages", s.handlePhoneMessage)
	mux.HandleFunc("GET /simulator/phone", s.handlePhonePage)
	mux.HandleFunc("GET /simulator/phone/ui/{file}", s.handlePhonePage)
	mux.HandleFunc("GET /simulator/phone/chats/{wa_id}", s.handlePhoneChat)
	mux.HandleFunc("POST /simulator/gemini/v1beta/models/{model_action}", s.handleGemini)
	return mux
}

// Handler serves every simulator route under its full /simulator/... path, so it
// can be mounted on the application's mux or served alone.
func (s *Simulator) Handler() http.Handler {
	return s.handler
}

// Close stops background status posting and releases requests hanging on an
// injected timeout, then waits for the background goroutines to finish.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// goBackground runs fn in a goroutine that Close waits for, unless the simulator
// is already closed.
func (s *Simulator) goBackground(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// record stores a send and wakes every WaitForSends.
func (s *Simulator) record(send Send) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends = append(s.sends, send)
	close(s.sendsChanged)
	s.sendsChanged = make(chan struct{})
}

// Sends returns a copy of every request the messages endpoint received, in
// arrival order.
func (s *Simulator) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sends)
}

// WaitForSends blocks until at least n sends were recorded and returns them, or
// returns the context's error. Tests use it instead of sleeping.
func (s *Simulator) WaitForSends(ctx context.Context, n int) ([]Send, error) {
	for {
		s.mu.Lock()
		if len(s.sends) >= n {
			sends := slices.Clone(s.sends)
			s.mu.Unlock()
			return sends, nil
		}
		changed := s.sendsChanged
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("error waiting for %d simulator sends: %w", n, ctx.Err())
		}
	}
}

// ResetSends forgets the recorded sends, for example between benchmark phases.
func (s *Simulator) ResetSends() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends = nil
}

func (s *Simulator) handleGetSends(w http.ResponseWriter, r *http.Request) {
	sends := s.Sends()
	if sends == nil {
		sends = []Send{}
	}
	writeJSON(w, http.StatusOK, sends)
}

func (s *Simulator) handleDeleteSends(w http.ResponseWriter, r *http.Request) {
	s.ResetSends()
	w.WriteHeader(http.StatusNoContent)
}

// sleep waits d unless ctx ends first or the simulator closes; it reports false
// when ctx ended, meaning the client is gone.
func (s *Simulator) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.ctx.Done():
		return true
	case <-ctx.Done():
		return false
	}
}

// newWAMID returns a message id in the look of Meta's: "wamid." and base64.
func newWAMID() string {
	return "wamid." + base64.StdEncoding.EncodeToString(randomBytes(30))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// apiError is the house error body of the simulator's own endpoints.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeAPIError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do about it
}
