// Package config reads wainbox's configuration from the environment and validates all of it at
// start, so a misconfigured instance refuses to run with one clear line per problem instead of
// failing on the first request that needs the missing value.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Simulator defaults: the values the in-process simulator and the clients share when the
// corresponding WHATSAPP_* or GEMINI_* variable is not set. They match Meta's sample payloads.
const (
	SimAccessToken        = "simulator-access-token"
	SimPhoneNumberID      = "106540352242922"
	SimDisplayPhoneNumber = "15550783881"
	SimBusinessAccountID  = "102290129340398"
	SimAppSecret          = "simulator-app-secret"
	SimVerifyToken        = "simulator-verify-token"
	SimGeminiAPIKey       = "simulator-gemini-key"
)

// Config is the whole configuration of one wainbox instance.
type Config struct {
	DatabaseURL      string
	DatabaseMaxConns int32
	HTTPAddr         string
	// PublicBaseURL is where agents and Meta reach this instance. Empty means "derive it from the
	// address the server listens on", which is what local runs and tests want.
	PublicBaseURL  string
	AllowedOrigins []string

	WhatsApp WhatsApp
	Gemini   Gemini
	Bot      Bot

	AuthSecret     []byte
	AccessTokenTTL time.Duration

	// Sessions and login throttling (docs/agents.md).
	RefreshTokenTTL       time.Duration
	SessionCacheTTL       time.Duration
	LoginMaxFailures      int
	LoginMaxFailuresPerIP int
	LoginFailureWindow    time.Duration
	ConversationLockTTL   time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client that login
	// throttling counts; empty trusts none and counts the TCP peer.
	TrustedProxies []netip.Prefix

	LogFormat string
	LogLevel  slog.Level

	Simulator bool

	SendMaxAttempts int
	// SendReconcileWindow is how long a send whose outcome at Meta is unknown waits for a status
	// webhook that proves it before it is sent again (docs/delivery.md).
	SendReconcileWindow time.Duration
	// MaxMessagesPerSecond paces the sends of one business number across all instances; 0 turns
	// pacing off.
	MaxMessagesPerSecond int
	// HTTPRequestTimeout bounds every API request (WebSockets excepted), so a frozen database
	// answers 503 instead of holding the client.
	HTTPRequestTimeout time.Duration
	// HTTPBodyTimeout is how long a request body may take to arrive whole; HTTPMaxPublicBodies
	// caps the bodies of unauthenticated callers (webhook, login, refresh) read at once. Together
	// they keep callers who announce large bodies and send them slowly from exhausting memory.
	HTTPBodyTimeout     time.Duration
	HTTPMaxPublicBodies int
	// MetricsToken is the bearer a Prometheus scraper presents at GET /metrics.
	MetricsToken    string
	ShutdownTimeout time.Duration
	// WSMaxSocketsPerUser and WSMaxUnauthenticatedSockets cap one user's WebSockets and those
	// still to authenticate, per instance (docs/realtime.md).
	WSMaxSocketsPerUser         int
	WSMaxUnauthenticatedSockets int
}

// WhatsApp configures the Cloud API client and the webhook.
type WhatsApp struct {
	APIBaseURL         string
	APIVersion         string
	AccessToken        string
	PhoneNumberID      string
	DisplayPhoneNumber string
	BusinessAccountID  string
	AppSecret          string
	VerifyToken        string
}

// Gemini configures the bot's model client.
type Gemini struct {
	APIKey  string
	BaseURL string
	Model   string
	// Timeout bounds one Gemini call.
	Timeout time.Duration
}

// DefaultBotHandoffMessage is what the customer reads when the bot hands the conversation to a
// person, unless BOT_HANDOFF_MESSAGE says otherwise: both languages the bot speaks by default.
const DefaultBotHandoffMessage = "Gracias por tu paciencia. Una persona de nuestro equipo te atenderá en breve.\n" +
	"Thanks for your patience. A person from our team will be with you shortly."

// Bot configures the Gemini bot (see docs/bot.md).
type Bot struct {
	// Enabled is the global switch; the bot runs only when it is on and Gemini is configured.
	Enabled bool
	// Instructions is the business's system instruction, read from BOT_INSTRUCTIONS_FILE; empty
	// means the built-in generic one.
	Instructions     string
	InstructionsFile string
	HistoryMessages  int
	HistoryChars     int
	// MaxReplies is how many replies the bot writes in one session before it hands off.
	MaxReplies int
	// HandoffPhrases are what a customer writes to ask for a person; nil means the built-in list.
	HandoffPhrases []string
	// HandoffMessage is sent to the customer on hand-off; empty sends nothing.
	HandoffMessage string
	// Debounce is how long the bot waits after a customer message for the next one of a burst.
	Debounce time.Duration
	// RetryBase is the first backoff of a failed Gemini call; it doubles per attempt.
	RetryBase time.Duration
}

// BotActive reports whether new conversations start with the bot: it is switched on and Gemini
// (or the simulator's fake) is configured.
func (c *Config) BotActive() bool { return c.Bot.Enabled && c.Gemini.APIKey != "" }

// Var documents one environment variable; Vars is the list `wainbox serve --help` prints.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable wainbox reads, in the order the help shows them.
var Vars = []Var{
	{"DATABASE_URL", "", "PostgreSQL URL (required; make run finds or starts a local server)"},
	{"DATABASE_MAX_CONNS", "20", "size of the connection pool"},
	{"HTTP_ADDR", ":8080", "address the HTTP server listens on"},
	{"PUBLIC_BASE_URL", "http://localhost<port of HTTP_ADDR>", "where agents and Meta reach this instance (Origin checks, simulator webhook target)"},
	{"ALLOWED_ORIGINS", "", "extra browser origins allowed besides PUBLIC_BASE_URL, comma-separated"},
	{"WHATSAPP_API_BASE_URL", "https://graph.facebook.com", "Graph API base URL (ignored with SIMULATOR=1)"},
	{"WHATSAPP_API_VERSION", "v24.0", "Graph API version"},
	{"WHATSAPP_ACCESS_TOKEN", "", "system-user access token (required unless SIMULATOR=1)"},
	{"WHATSAPP_PHONE_NUMBER_ID", "", "business phone number id (required unless SIMULATOR=1)"},
	{"WHATSAPP_DISPLAY_PHONE_NUMBER", "", "the number as customers see it, for display"},
	{"WHATSAPP_BUSINESS_ACCOUNT_ID", "", "WhatsApp Business Account id"},
	{"WHATSAPP_APP_SECRET", "", "Meta app secret that signs webhooks (required unless SIMULATOR=1)"},
	{"WHATSAPP_VERIFY_TOKEN", "", "token Meta echoes when verifying the webhook (required unless SIMULATOR=1)"},
	{"GEMINI_API_KEY", "", "Gemini API key; without it (and without the simulator) the bot is off"},
	{"GEMINI_BASE_URL", "", "Gemini API base URL (default Google's; the simulator's with SIMULATOR=1)"},
	{"GEMINI_MODEL", "gemini-2.5-flash", "Gemini model name"},
	{"GEMINI_TIMEOUT", "15s", "how long one Gemini call may take before it counts as failed and is retried; with the default a bot reply whose instance died runs again within a minute, a longer one delays that as much"},
	{"BOT_ENABLED", "1", "0 turns the bot off globally: new conversations start pending, for humans"},
	{"BOT_INSTRUCTIONS_FILE", "", "text file with the bot's system instruction (business name, tone, hours, FAQ); default a generic one"},
	{"BOT_HISTORY_MESSAGES", "20", "how many recent messages of the conversation the bot sends Gemini as context"},
	{"BOT_HISTORY_CHARS", "8000", "cap on the characters of that context; older messages are dropped first"},
	{"BOT_MAX_REPLIES", "5", "bot replies in one session before it hands the conversation to a person"},
	{"BOT_HANDOFF_PHRASES", "agente,humano,persona,asesor,operador,agent,human,person,representative,operator", "comma-separated words or phrases with which a customer asks for a person (case and accents ignored)"},
	{"BOT_HANDOFF_MESSAGE", "(Spanish and English notice)", "sent to the customer when the bot hands off; set it empty to send nothing"},
	{"BOT_DEBOUNCE", "2s", "how long the bot waits for more messages of a burst before it answers them at once"},
	{"BOT_RETRY_BASE", "2s", "first backoff of a failed Gemini call (doubling; 4 attempts, then hand-off)"},
	{"AUTH_SECRET", "", "at least 32 bytes signing access tokens; shared by all instances (required unless SIMULATOR=1, which makes a random one)"},
	{"ACCESS_TOKEN_TTL", "15m", "lifetime of an access token"},
	{"REFRESH_TOKEN_TTL", "720h", "lifetime of a refresh token (each refresh makes a new one)"},
	{"SESSION_CACHE_TTL", "5s", "how long an instance reuses a verified session before checking it again; revocations and permission changes still reach every instance at once through the events log"},
	{"LOGIN_MAX_FAILURES", "5", "failed logins of one account per LOGIN_FAILURE_WINDOW before 429"},
	{"LOGIN_MAX_FAILURES_PER_IP", "20", "failed logins from one address per LOGIN_FAILURE_WINDOW before 429"},
	{"LOGIN_FAILURE_WINDOW", "15m", "sliding window of login throttling"},
	{"TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies in front of wainbox; from a peer among them the client address (for login throttling) is the right-most X-Forwarded-For entry not itself a trusted proxy; otherwise X-Forwarded-For is ignored"},
	{"CONVERSATION_LOCK_TTL", "5m", "lifetime of an agent's conversation lock (renewable by the holder)"},
	{"LOG_FORMAT", "json", "json or text"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"SIMULATOR", "0", "1 runs the simulator (fake Graph API, phone and Gemini) inside the process and points the clients at it"},
	{"SEND_MAX_ATTEMPTS", "10", "attempts for one outbound message before its job is discarded (dead letter) and the message fails"},
	{"SEND_RECONCILE_WINDOW", "30s", "how long a send whose outcome at Meta is unknown (crash, timeout, lost answer) waits for a status webhook proving it before it is sent again"},
	{"WHATSAPP_MAX_MESSAGES_PER_SECOND", "80", "sends per second of the business number, shared by all instances (Meta's default throughput); 0 turns pacing off"},
	{"HTTP_REQUEST_TIMEOUT", "15s", "longest an API request may run (WebSockets excepted); past it the answer is 503 unavailable"},
	{"HTTP_BODY_TIMEOUT", "10s", "longest a request body may take to arrive whole; past it the answer is 408 and the connection is closed"},
	{"HTTP_MAX_PUBLIC_BODIES", "64", "request bodies of unauthenticated callers (webhook, login, refresh) read at once; more are answered 503 with Retry-After"},
	{"SHUTDOWN_TIMEOUT", "30s", "how long SIGTERM waits for requests and running jobs"},
	{"METRICS_TOKEN", "", "bearer token (at least 16 bytes) a Prometheus scraper presents at GET /metrics; users with can_view_metrics may read it too"},
	{"WS_MAX_SOCKETS_PER_USER", "20", "WebSockets one user may hold on one instance (many tabs); one more is closed with 4009 when it authenticates"},
	{"WS_MAX_UNAUTHENTICATED_SOCKETS", "256", "WebSockets of one instance still to authenticate (5 s each at most); over it the upgrade is refused with 503"},
}

// Load reads the configuration through lookup (os.LookupEnv in production) and validates it. The
// error joins one line per problem.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	cfg := &Config{
		DatabaseURL:   get("DATABASE_URL"),
		HTTPAddr:      or(get("HTTP_ADDR"), ":8080"),
		PublicBaseURL: strings.TrimRight(get("PUBLIC_BASE_URL"), "/"),
		WhatsApp: WhatsApp{
			APIBaseURL:         strings.TrimRight(or(get("WHATSAPP_API_BASE_URL"), "https://graph.facebook.com"), "/"),
			APIVersion:         or(get("WHATSAPP_API_VERSION"), "v24.0"),
			AccessToken:        get("WHATSAPP_ACCESS_TOKEN"),
			PhoneNumberID:      get("WHATSAPP_PHONE_NUMBER_ID"),
			DisplayPhoneNumber: get("WHATSAPP_DISPLAY_PHONE_NUMBER"),
			BusinessAccountID:  get("WHATSAPP_BUSINESS_ACCOUNT_ID"),
			AppSecret:          get("WHATSAPP_APP_SECRET"),
			VerifyToken:        get("WHATSAPP_VERIFY_TOKEN"),
		},
		Gemini: Gemini{
			APIKey:  get("GEMINI_API_KEY"),
			BaseURL: get("GEMINI_BASE_URL"),
			Model:   or(get("GEMINI_MODEL"), "gemini-2.5-flash"),
		},
		LogFormat: or(get("LOG_FORMAT"), "json"),
	}

	if v := get("ALLOWED_ORIGINS"); v != "" {
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimRight(strings.TrimSpace(o), "/")
			if o == "" {
				continue
			}
			if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
				bad("ALLOWED_ORIGINS", "%q is not an origin like https://panel.example.com", o)
				continue
			}
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}

	var err error
	if cfg.Simulator, err = parseBool(get("SIMULATOR")); err != nil {
		bad("SIMULATOR", "%v", err)
	}
	if cfg.DatabaseURL == "" {
		bad("DATABASE_URL", "is required (for example postgres://user@127.0.0.1:5432/wainbox)")
	}
	if n, err := intVar(get("DATABASE_MAX_CONNS"), 20, 2, 1000); err != nil {
		bad("DATABASE_MAX_CONNS", "%v", err)
	} else {
		cfg.DatabaseMaxConns = int32(n)
	}
	if _, _, err := net.SplitHostPort(cfg.HTTPAddr); err != nil {
		bad("HTTP_ADDR", "%q is not host:port (%v)", cfg.HTTPAddr, err)
	}
	if cfg.PublicBaseURL != "" {
		if u, err := url.Parse(cfg.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("PUBLIC_BASE_URL", "%q is not an http(s) URL", cfg.PublicBaseURL)
		}
	}
	if u, err := url.Parse(cfg.WhatsApp.APIBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("WHATSAPP_API_BASE_URL", "%q is not an http(s) URL", cfg.WhatsApp.APIBaseURL)
	}
	if cfg.Gemini.Timeout, err = durationVar(get("GEMINI_TIMEOUT"), 15*time.Second); err != nil {
		bad("GEMINI_TIMEOUT", "%v", err)
	}
	loadBot(cfg, lookup, get, bad)
	if cfg.Gemini.BaseURL != "" {
		if u, err := url.Parse(cfg.Gemini.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("GEMINI_BASE_URL", "%q is not an http(s) URL", cfg.Gemini.BaseURL)
		}
	}

	if cfg.Simulator {
		// The simulator's routes (/simulator/faults, /simulator/sends) are open to anyone: a
		// real token says this is a real deployment, where they must not be.
		if t := cfg.WhatsApp.AccessToken; t != "" && t != SimAccessToken {
			bad("SIMULATOR", "must not be 1 with a real WHATSAPP_ACCESS_TOKEN: the simulator's routes are open to anyone")
		}
		w := &cfg.WhatsApp
		w.AccessToken = or(w.AccessToken, SimAccessToken)
		w.PhoneNumberID = or(w.PhoneNumberID, SimPhoneNumberID)
		w.DisplayPhoneNumber = or(w.DisplayPhoneNumber, SimDisplayPhoneNumber)
		w.BusinessAccountID = or(w.BusinessAccountID, SimBusinessAccountID)
		w.AppSecret = or(w.AppSecret, SimAppSecret)
		w.VerifyToken = or(w.VerifyToken, SimVerifyToken)
		cfg.Gemini.APIKey = or(cfg.Gemini.APIKey, SimGeminiAPIKey)
	} else {
		for name, v := range map[string]string{
			"WHATSAPP_ACCESS_TOKEN":    cfg.WhatsApp.AccessToken,
			"WHATSAPP_PHONE_NUMBER_ID": cfg.WhatsApp.PhoneNumberID,
			"WHATSAPP_APP_SECRET":      cfg.WhatsApp.AppSecret,
			"WHATSAPP_VERIFY_TOKEN":    cfg.WhatsApp.VerifyToken,
		} {
			if v == "" {
				bad(name, "is required unless SIMULATOR=1")
			}
		}
	}

	switch secret := get("AUTH_SECRET"); {
	case secret != "" && len(secret) < 32:
		bad("AUTH_SECRET", "must be at least 32 bytes (openssl rand -hex 32 makes one)")
	case secret != "":
		cfg.AuthSecret = []byte(secret)
	case cfg.Simulator:
		// A throwaway secret is fine for a local run: tokens die with the process.
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		cfg.AuthSecret = []byte(hex.EncodeToString(b))
	default:
		bad("AUTH_SECRET", "is required unless SIMULATOR=1 (openssl rand -hex 32 makes one)")
	}
	if cfg.AccessTokenTTL, err = durationVar(get("ACCESS_TOKEN_TTL"), 15*time.Minute); err != nil {
		bad("ACCESS_TOKEN_TTL", "%v", err)
	}
	if cfg.SessionCacheTTL, err = durationVar(get("SESSION_CACHE_TTL"), 5*time.Second); err != nil {
		bad("SESSION_CACHE_TTL", "%v", err)
	}
	if cfg.RefreshTokenTTL, err = durationVar(get("REFRESH_TOKEN_TTL"), 30*24*time.Hour); err != nil {
		bad("REFRESH_TOKEN_TTL", "%v", err)
	}
	if cfg.LoginMaxFailures, err = intVar(get("LOGIN_MAX_FAILURES"), 5, 1, 1000); err != nil {
		bad("LOGIN_MAX_FAILURES", "%v", err)
	}
	if cfg.LoginMaxFailuresPerIP, err = intVar(get("LOGIN_MAX_FAILURES_PER_IP"), 20, 1, 100000); err != nil {
		bad("LOGIN_MAX_FAILURES_PER_IP", "%v", err)
	}
	if cfg.LoginFailureWindow, err = durationVar(get("LOGIN_FAILURE_WINDOW"), 15*time.Minute); err != nil {
		bad("LOGIN_FAILURE_WINDOW", "%v", err)
	}
	var badProxies []error
	cfg.TrustedProxies, badProxies = prefixesVar(get("TRUSTED_PROXIES"))
	for _, err := range badProxies {
		bad("TRUSTED_PROXIES", "%v", err)
	}
	if cfg.ConversationLockTTL, err = durationVar(get("CONVERSATION_LOCK_TTL"), 5*time.Minute); err != nil {
		bad("CONVERSATION_LOCK_TTL", "%v", err)
	}
	if cfg.ShutdownTimeout, err = durationVar(get("SHUTDOWN_TIMEOUT"), 30*time.Second); err != nil {
		bad("SHUTDOWN_TIMEOUT", "%v", err)
	}
	if cfg.SendMaxAttempts, err = intVar(get("SEND_MAX_ATTEMPTS"), 10, 1, 100); err != nil {
		bad("SEND_MAX_ATTEMPTS", "%v", err)
	}
	if cfg.SendReconcileWindow, err = durationVar(get("SEND_RECONCILE_WINDOW"), 30*time.Second); err != nil {
		bad("SEND_RECONCILE_WINDOW", "%v", err)
	}
	if cfg.MaxMessagesPerSecond, err = intVar(get("WHATSAPP_MAX_MESSAGES_PER_SECOND"), 80, 0, 100000); err != nil {
		bad("WHATSAPP_MAX_MESSAGES_PER_SECOND", "%v", err)
	}
	if cfg.HTTPRequestTimeout, err = durationVar(get("HTTP_REQUEST_TIMEOUT"), 15*time.Second); err != nil {
		bad("HTTP_REQUEST_TIMEOUT", "%v", err)
	}
	if cfg.HTTPBodyTimeout, err = durationVar(get("HTTP_BODY_TIMEOUT"), 10*time.Second); err != nil {
		bad("HTTP_BODY_TIMEOUT", "%v", err)
	}
	if cfg.HTTPMaxPublicBodies, err = intVar(get("HTTP_MAX_PUBLIC_BODIES"), 64, 1, 100000); err != nil {
		bad("HTTP_MAX_PUBLIC_BODIES", "%v", err)
	}
	if cfg.MetricsToken = get("METRICS_TOKEN"); cfg.MetricsToken != "" && len(cfg.MetricsToken) < 16 {
		bad("METRICS_TOKEN", "must be at least 16 bytes")
	}
	if cfg.WSMaxSocketsPerUser, err = intVar(get("WS_MAX_SOCKETS_PER_USER"), 20, 1, 100000); err != nil {
		bad("WS_MAX_SOCKETS_PER_USER", "%v", err)
	}
	if cfg.WSMaxUnauthenticatedSockets, err = intVar(get("WS_MAX_UNAUTHENTICATED_SOCKETS"), 256, 1, 1000000); err != nil {
		bad("WS_MAX_UNAUTHENTICATED_SOCKETS", "%v", err)
	}
	if cfg.LogFormat != "json" && cfg.LogFormat != "text" {
		bad("LOG_FORMAT", "%q is not json or text", cfg.LogFormat)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(or(get("LOG_LEVEL"), "info"))); err != nil {
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", get("LOG_LEVEL"))
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// loadBot reads the BOT_* variables into cfg.Bot.
func loadBot(cfg *Config, lookup func(string) (string, bool), get func(string) string, bad func(string, string, ...any)) {
	b := &cfg.Bot
	var err error
	b.Enabled = true
	if v := get("BOT_ENABLED"); v != "" {
		if b.Enabled, err = parseBool(v); err != nil {
			bad("BOT_ENABLED", "%v", err)
		}
	}
	if b.InstructionsFile = get("BOT_INSTRUCTIONS_FILE"); b.InstructionsFile != "" {
		text, err := os.ReadFile(b.InstructionsFile)
		switch {
		case err != nil:
			bad("BOT_INSTRUCTIONS_FILE", "%v", err)
		case !utf8.Valid(text) || strings.TrimSpace(string(text)) == "":
			bad("BOT_INSTRUCTIONS_FILE", "%s must be non-empty UTF-8 text", b.InstructionsFile)
		default:
			b.Instructions = strings.TrimSpace(string(text))
		}
	}
	if b.HistoryMessages, err = intVar(get("BOT_HISTORY_MESSAGES"), 20, 1, 200); err != nil {
		bad("BOT_HISTORY_MESSAGES", "%v", err)
	}
	if b.HistoryChars, err = intVar(get("BOT_HISTORY_CHARS"), 8000, 200, 500000); err != nil {
		bad("BOT_HISTORY_CHARS", "%v", err)
	}
	if b.MaxReplies, err = intVar(get("BOT_MAX_REPLIES"), 5, 1, 1000); err != nil {
		bad("BOT_MAX_REPLIES", "%v", err)
	}
	if v := get("BOT_HANDOFF_PHRASES"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				b.HandoffPhrases = append(b.HandoffPhrases, p)
			}
		}
	}
	// Set but empty means "send no notice", which an unset variable cannot say.
	b.HandoffMessage = DefaultBotHandoffMessage
	if v, ok := lookup("BOT_HANDOFF_MESSAGE"); ok {
		b.HandoffMessage = strings.TrimSpace(strings.ReplaceAll(v, `\n`, "\n"))
	}
	if b.Debounce, err = durationVar(get("BOT_DEBOUNCE"), 2*time.Second); err != nil {
		bad("BOT_DEBOUNCE", "%v", err)
	}
	if b.RetryBase, err = durationVar(get("BOT_RETRY_BASE"), 2*time.Second); err != nil {
		bad("BOT_RETRY_BASE", "%v", err)
	}
}

// BaseURL returns PublicBaseURL, or the loopback URL of listenAddr when it is not configured.
func (c *Config) BaseURL(listenAddr net.Addr) string {
	if c.PublicBaseURL != "" {
		return c.PublicBaseURL
	}
	_, port, _ := net.SplitHostPort(listenAddr.String())
	return "http://localhost:" + port
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not 0/1/true/false", v)
	}
	return b, nil
}

func intVar(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}

// prefixesVar reads a comma-separated list of CIDRs, a bare address standing for itself alone,
// and returns one error per entry that is neither.
func prefixesVar(v string) ([]netip.Prefix, []error) {
	var (
		out  []netip.Prefix
		errs []error
	)
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8 or an address", s))
				continue
			}
			p = netip.PrefixFrom(a.WithZone(""), a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, errs
}

func durationVar(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like 30s or 15m", v)
	}
	return d, nil
}
