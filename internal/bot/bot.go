// Package bot is wainbox's Gemini bot: it turns a conversation into a prompt (the business's
// instruction, the recent messages bounded by characters, the customer's new message), asks Gemini
// through google.golang.org/genai for a structured answer ({"reply", "handoff"}), and knows when a
// conversation belongs to a human instead. It neither reads nor writes the database: the bot_reply
// worker (internal/jobs) loads the conversation and the inbox (internal/inbox) stores the outcome.
package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/genai"
)

// DefaultInstructions is the system instruction used when the business gives none
// (BOT_INSTRUCTIONS_FILE): a courteous generic assistant that does not make things up.
const DefaultInstructions = `You are the virtual assistant of a business on WhatsApp. You answer customers' questions
kindly and briefly. You do not know the business's prices, stock, orders or policies unless they are
written here: never invent them. When you cannot help, offer to put the customer in touch with a person.`

// rules follow the business's instructions in every system instruction: they are what the code
// that reads the answer relies on, so a business cannot remove them by accident.
const rules = `

Rules for every answer:
- Answer in the language of the customer's last message (Spanish, English or any other).
- Write as on WhatsApp: plain text, a few short sentences, no Markdown headings or tables.
- Answer with a JSON object {"reply": string, "handoff": boolean}.
- Set "handoff" to true when the customer asks for a person, is upset, or needs something you cannot
  do or do not know; then "reply" tells the customer that a person will continue the conversation.`

// DefaultHandoffPhrases are what customers write to ask for a person, in Spanish and English.
var DefaultHandoffPhrases = []string{
	"agente", "humano", "persona", "asesor", "operador", "agent", "human", "person", "representative", "operator",
}

// MaxReplyChars is WhatsApp's limit on a text message; a longer answer is cut.
const MaxReplyChars = 4096

// Config configures a Bot. wainbox fills it from config (GEMINI_*, BOT_*), which owns the
// defaults; the fallbacks below for zero values serve the tests that build a Bot directly.
type Config struct {
	// APIKey, BaseURL (empty: Google's) and Model (empty: gemini-2.5-flash) reach Gemini.
	APIKey  string
	BaseURL string
	Model   string
	// Timeout bounds one call (zero: 15 s).
	Timeout time.Duration
	// Instructions is the business's system instruction; empty uses DefaultInstructions.
	Instructions string
	// HistoryChars caps the characters of the conversation sent as context (zero: 8000).
	HistoryChars int
	// HandoffPhrases ask for a person (nil: DefaultHandoffPhrases).
	HandoffPhrases []string
	// HTTPClient makes the calls (default a plain http.Client; the timeout comes from the context).
	HTTPClient *http.Client
	// Registerer receives the bot's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Bot answers customers through Gemini.
type Bot struct {
	client       *genai.Client
	model        string
	timeout      time.Duration
	system       string
	historyChars int
	phrases      []string
	logger       *slog.Logger
	metrics      *metrics
	// last is this instance's last Gemini call, for the detailed health.
	last atomic.Pointer[LastCall]
}

// LastCall is the outcome of the instance's last Gemini call: Result as in the calls metric (ok,
// error, blocked, empty), its time and duration.
type LastCall struct {
	Result   string
	At       time.Time
	Duration time.Duration
}

// Last returns this instance's last Gemini call, nil before the first.
func (b *Bot) Last() *LastCall { return b.last.Load() }

// New validates cfg, fills its defaults and returns a Bot.
func New(ctx context.Context, cfg *Config) (*Bot, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("bot: an API key is required")
	}
	b := &Bot{
		model:        cfg.Model,
		timeout:      cfg.Timeout,
		system:       strings.TrimSpace(cfg.Instructions),
		historyChars: cfg.HistoryChars,
		logger:       cfg.Logger,
	}
	if b.model == "" {
		b.model = "gemini-2.5-flash"
	}
	if b.timeout <= 0 {
		b.timeout = 15 * time.Second
	}
	if b.system == "" {
		b.system = DefaultInstructions
	}
	b.system += rules
	if b.historyChars <= 0 {
		b.historyChars = 8000
	}
	if b.logger == nil {
		b.logger = slog.New(slog.DiscardHandler)
	}
	phrases := cfg.HandoffPhrases
	if phrases == nil {
		phrases = DefaultHandoffPhrases
	}
	for _, p := range phrases {
		if n := normalize(p); n != "" {
			b.phrases = append(b.phrases, n)
		}
	}
	var err error
	if b.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		// Replies run concurrently on the job workers: keep their connections to Gemini open
		// rather than http.DefaultTransport's two per host.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		httpClient = &http.Client{Transport: t}
	}
	cc := &genai.ClientConfig{APIKey: cfg.APIKey, Backend: genai.BackendGeminiAPI, HTTPClient: httpClient}
	if cfg.BaseURL != "" {
		cc.HTTPOptions.BaseURL = strings.TrimRight(cfg.BaseURL, "/") + "/"
	}
	if b.client, err = genai.NewClient(ctx, cc); err != nil {
		return nil, fmt.Errorf("error creating Gemini client: %w", err)
	}
	return b, nil
}

// Model is the Gemini model the bot asks.
func (b *Bot) Model() string { return b.model }

// Timeout bounds one Gemini call.
func (b *Bot) Timeout() time.Duration { return b.timeout }

// Turn is one message of the conversation as the bot sees it.
type Turn struct {
	// Customer: the customer wrote it; otherwise the business did (the bot, an agent, a notice).
	Customer bool
	Text     string
}

// Usage is the tokens one call used, as Gemini counts them.
type Usage struct {
	Prompt     int
	Candidates int
	Total      int
}

// Problems that make an answer unusable; the bot then hands off.
const (
	ProblemBlocked = "blocked" // a safety filter stopped the prompt or the answer
	ProblemEmpty   = "empty"   // no answer, or one the bot cannot read
)

// Answer is what Gemini answered.
type Answer struct {
	// Reply is the text for the customer; it may be empty when Handoff is set.
	Reply   string
	Handoff bool
	// Problem, when set, says why the answer cannot be used (ProblemBlocked, ProblemEmpty).
	Problem string
	Detail  string
	Usage   Usage
}

// Answer asks Gemini to answer the conversation turns, oldest first, whose last turns are the
// customer's new message(s). An error is a failed call: IsRetryable tells whether to try again.
func (b *Bot) Answer(ctx context.Context, turns []Turn) (*Answer, error) {
	contents := Contents(turns, b.historyChars)
	if len(contents) == 0 {
		return &Answer{Problem: ProblemEmpty, Detail: "nothing to answer"}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	start := time.Now()
	resp, err := b.client.Models.GenerateContent(ctx, b.model, contents, b.generateConfig())
	took := time.Since(start)
	b.metrics.duration.Observe(took.Seconds())
	if err != nil {
		b.metrics.calls.WithLabelValues("error").Inc()
		b.last.Store(&LastCall{Result: "error", At: start, Duration: took})
		return nil, fmt.Errorf("error calling Gemini %s: %w", b.model, err)
	}
	ans := parseResponse(resp)
	b.metrics.tokens.WithLabelValues("prompt").Add(float64(ans.Usage.Prompt))
	b.metrics.tokens.WithLabelValues("candidates").Add(float64(ans.Usage.Candidates))
	b.metrics.tokens.WithLabelValues("total").Add(float64(ans.Usage.Total))
	result := "ok"
	if ans.Problem != "" {
		result = ans.Problem
	}
	b.metrics.calls.WithLabelValues(result).Inc()
	b.last.Store(&LastCall{Result: result, At: start, Duration: took})
	return ans, nil
}

func (b *Bot) generateConfig() *genai.GenerateContentConfig {
	temperature := float32(0.4)
	return &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText(b.system, genai.RoleUser),
		Temperature:       &temperature,
		ResponseMIMEType:  "application/json",
		ResponseSchema: &genai.Schema{
			Type: genai.TypeObject,
			Properties: map[string]*genai.Schema{
				"reply":   {Type: genai.TypeString, Description: "the message for the customer"},
				"handoff": {Type: genai.TypeBoolean, Description: "true to hand the conversation to a person"},
			},
			Required:         []string{"reply", "handoff"},
			PropertyOrdering: []string{"reply", "handoff"},
		},
	}
}

// Contents builds Gemini's contents from the conversation turns, oldest first: the newest turns
// that fit in maxChars (the newest one always, cut if it alone is longer), consecutive turns of one
// side merged into one content (Gemini expects user and model to alternate), starting with the
// customer (a conversation the business opened starts where the customer first answers).
func Contents(turns []Turn, maxChars int) []*genai.Content {
	var kept []Turn
	used := 0
	for i := len(turns) - 1; i >= 0; i-- {
		t := turns[i]
		t.Text = strings.TrimSpace(t.Text)
		if t.Text == "" {
			continue
		}
		n := utf8.RuneCountInString(t.Text)
		if used+n > maxChars {
			if len(kept) > 0 {
				break
			}
			t.Text = string([]rune(t.Text)[:maxChars])
			n = maxChars
		}
		used += n
		kept = append(kept, t)
	}
	var contents []*genai.Content
	for i := len(kept) - 1; i >= 0; i-- {
		t := kept[i]
		role := genai.Role(genai.RoleModel)
		if t.Customer {
			role = genai.RoleUser
		}
		if len(contents) == 0 && role != genai.RoleUser {
			continue
		}
		if last := contents; len(last) > 0 && last[len(last)-1].Role == string(role) {
			last[len(last)-1].Parts = append(last[len(last)-1].Parts, genai.NewPartFromText(t.Text))
			continue
		}
		contents = append(contents, genai.NewContentFromText(t.Text, role))
	}
	return contents
}

// blockingFinishReasons end an answer for safety or policy reasons.
var blockingFinishReasons = map[genai.FinishReason]bool{
	genai.FinishReasonSafety:            true,
	genai.FinishReasonRecitation:        true,
	genai.FinishReasonBlocklist:         true,
	genai.FinishReasonProhibitedContent: true,
	genai.FinishReasonSPII:              true,
}

// parseResponse reads Gemini's answer: the JSON object the schema asks for, or plain text from a
// model that ignored it. A blocked or empty answer, or a JSON one that cannot be read (cut by the
// token limit, say), is a problem rather than text to show a customer.
func parseResponse(resp *genai.GenerateContentResponse) *Answer {
	ans := &Answer{}
	if u := resp.UsageMetadata; u != nil {
		ans.Usage = Usage{Prompt: int(u.PromptTokenCount), Candidates: int(u.CandidatesTokenCount), Total: int(u.TotalTokenCount)}
	}
	if f := resp.PromptFeedback; f != nil && f.BlockReason != "" {
		ans.Problem, ans.Detail = ProblemBlocked, "prompt blocked: "+string(f.BlockReason)
		return ans
	}
	if len(resp.Candidates) == 0 || resp.Candidates[0].Content == nil {
		ans.Problem, ans.Detail = ProblemEmpty, "no candidate"
		if len(resp.Candidates) > 0 && blockingFinishReasons[resp.Candidates[0].FinishReason] {
			ans.Problem, ans.Detail = ProblemBlocked, "answer blocked: "+string(resp.Candidates[0].FinishReason)
		}
		return ans
	}
	c := resp.Candidates[0]
	if blockingFinishReasons[c.FinishReason] {
		ans.Problem, ans.Detail = ProblemBlocked, "answer blocked: "+string(c.FinishReason)
		return ans
	}
	var b strings.Builder
	for _, p := range c.Content.Parts {
		if p != nil && !p.Thought {
			b.WriteString(p.Text)
		}
	}
	text := stripFence(strings.TrimSpace(b.String()))
	if strings.HasPrefix(text, "{") {
		var structured struct {
			Reply   *string `json:"reply"`
			Handoff bool    `json:"handoff"`
		}
		if err := json.Unmarshal([]byte(text), &structured); err != nil || (structured.Reply == nil && !structured.Handoff) {
			ans.Problem, ans.Detail = ProblemEmpty, "unreadable JSON answer (finish reason "+string(c.FinishReason)+")"
			return ans
		}
		if structured.Reply != nil {
			text = strings.TrimSpace(*structured.Reply)
		} else {
			text = ""
		}
		ans.Handoff = structured.Handoff
	}
	if utf8.RuneCountInString(text) > MaxReplyChars {
		text = string([]rune(text)[:MaxReplyChars-1]) + "…"
	}
	ans.Reply = text
	if ans.Reply == "" && !ans.Handoff {
		ans.Problem, ans.Detail = ProblemEmpty, "empty reply"
	}
	return ans
}

// stripFence removes a Markdown code fence around a JSON answer (```json ... ```).
func stripFence(s string) string {
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "```"), "```")
	s = strings.TrimPrefix(s, "json")
	return strings.TrimSpace(s)
}

// IsRetryable tells a failed call worth repeating (throttling, Google's own errors, timeouts and
// network failures) from one that will fail again the same way (a bad request, a bad key, an
// unknown model).
func IsRetryable(err error) bool {
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == http.StatusTooManyRequests || apiErr.Code == http.StatusRequestTimeout || apiErr.Code >= 500
	}
	var apiErrPtr *genai.APIError
	if errors.As(err, &apiErrPtr) {
		return apiErrPtr.Code == http.StatusTooManyRequests || apiErrPtr.Code == http.StatusRequestTimeout || apiErrPtr.Code >= 500
	}
	return true
}

// AsksForHuman reports whether text contains one of the hand-off phrases as whole words, ignoring
// case and accents: "quiero hablar con un AGENTE" and "Humano!" do, "personalizado" does not.
func (b *Bot) AsksForHuman(text string) bool {
	t := " " + normalize(text) + " "
	for _, p := range b.phrases {
		if strings.Contains(t, " "+p+" ") {
			return true
		}
	}
	return false
}

// normalize lowercases s, removes accents and turns every run of non-letters and non-digits into
// one space.
func normalize(s string) string {
	s, _, _ = transform.String(transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), s)
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// Outcome counts one finished bot_reply job by outcome and reason (see inbox.BotOutcome).
func (b *Bot) Outcome(outcome, reason string) {
	b.metrics.runs.WithLabelValues(outcome, reason).Inc()
}

type metrics struct {
	tokens   *prometheus.CounterVec
	calls    *prometheus.CounterVec
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wainbox_bot_gemini_tokens_total",
			Help: "Gemini tokens used by the bot, by kind: prompt, candidates (the answer) and total.",
		}, []string{"kind"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wainbox_bot_gemini_calls_total",
			Help: "Gemini calls made by the bot, by result: ok, error, blocked or empty.",
		}, []string{"result"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wainbox_bot_runs_total",
			Help: "bot_reply jobs finished, by outcome (replied, handed_off, skipped) and reason.",
		}, []string{"outcome", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wainbox_bot_gemini_call_duration_seconds",
			Help:    "Duration of the bot's Gemini calls, failed ones included.",
			Buckets: []float64{0.25, 0.5, 1, 2, 4, 8, 15, 30},
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.tokens, m.calls, m.runs, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("error registering bot metrics: %w", err)
			}
		}
	}
	return m, nil
}
