// Package config reads wainbox's configuration from the environment and validates all of it at
// start, so a misconfigured instance refuses to run with one clear line per problem instead of
// failing on the first request that needs the missing value.
//
// Every variable is one entry of Vars: its name, its default, how it is parsed and checked, and
// its help. Load, the loaders of the other subcommands and `wainbox serve --help` all read that
// table, and a test holds README.md's configuration table to it.
package config

import (
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wainbox/wainbox/internal/businesshours"
)

// Simulator defaults: the values the in-process simulator and the clients share when the
// corresponding WHATSAPP_* variable is not set. They match Meta's sample payloads.
const (
	SimAccessToken        = "simulator-access-token"
	SimPhoneNumberID      = "106540352242922"
	SimDisplayPhoneNumber = "15550783881"
	SimBusinessAccountID  = "102290129340398"
	SimAppSecret          = "simulator-app-secret"
	SimVerifyToken        = "simulator-verify-token"
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
	Media    Media

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
	MetricsToken string
	// NumberCheckInterval is how often at most Meta is asked about the business number (its
	// rating, and whether the token still works) for the detailed health and /metrics.
	NumberCheckInterval time.Duration
	// BusinessHours is the team's working week (nil: none configured), in BusinessTimezone;
	// reports measure times within it when asked.
	BusinessHours    *businesshours.Hours
	BusinessTimezone string
	ShutdownTimeout  time.Duration
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

// Media configures where files are kept and how they move (docs/media.md).
type Media struct {
	// Store is "postgres" (the default: the files live in the database) or "s3".
	Store string
	S3    S3
	// Retention is how long the files of a conversation with no message are kept; 0 keeps them.
	Retention time.Duration
	// TransferTimeout bounds one download from Meta, one upload to Meta, and an agent's upload or
	// download through the API.
	TransferTimeout time.Duration
	// RetryBase is the first backoff after a failed transfer, doubling up to an hour.
	RetryBase time.Duration
	// Workers is how many transfers one instance runs at once; each holds a pooled connection
	// while it streams (with the PostgreSQL store).
	Workers int
}

// S3 is an S3-compatible bucket for MEDIA_STORE=s3.
type S3 struct {
	Endpoint  string
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	PathStyle bool
}

// Gemini configures the bot's model client.
type Gemini struct {
	// APIKey is GEMINI_API_KEY. With SIMULATOR=1 the bot talks to the simulator's fake Gemini,
	// which needs no key of the user's.
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
	// Enabled says whether the bot runs: whether new conversations start with it and the
	// bot_reply worker asks Gemini. Load decides it, and nothing else does: BOT_ENABLED is on and
	// there is a Gemini to ask, GEMINI_API_KEY's or, with SIMULATOR=1, the simulator's fake.
	Enabled bool
	// Instructions is the business's system instruction, read from BOT_INSTRUCTIONS_FILE; empty
	// means the built-in generic one.
	Instructions     string
	InstructionsFile string
	HistoryMessages  int
	HistoryChars     int
	// MaxReplies is how many replies the bot writes in one session before it hands off.
	MaxReplies int
	// HandoffPhrases are what a customer writes to ask for a person.
	HandoffPhrases []string
	// HandoffMessage is sent to the customer on hand-off; empty sends nothing.
	HandoffMessage string
	// Debounce is how long the bot waits after a customer message for the next one of a burst.
	Debounce time.Duration
	// RetryBase is the first backoff of a failed Gemini call; it doubles per attempt.
	RetryBase time.Duration
}

// Load reads every variable of Vars through lookup (os.LookupEnv in production), applies the rules
// that join several of them, and validates the result. The error joins one line per problem.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	cfg := &Config{}
	errs := load(cfg, lookup, "SIMULATOR")
	for i := range Vars {
		if v := &Vars[i]; v.Name != "SIMULATOR" {
			errs = append(errs, v.load(cfg, lookup)...)
		}
	}

	// The simulator's routes (/simulator/faults, /simulator/sends) are open to anyone: a real
	// token says this is a real deployment, where they must not be.
	if cfg.Simulator && cfg.WhatsApp.AccessToken != SimAccessToken {
		errs = append(errs, errors.New("SIMULATOR: must not be 1 with a real WHATSAPP_ACCESS_TOKEN: the simulator's routes are open to anyone"))
	}
	if s3 := cfg.Media.S3; cfg.Media.Store == "s3" && (s3.Endpoint == "" || s3.Bucket == "" || s3.AccessKey == "" || s3.SecretKey == "") {
		errs = append(errs, errors.New("MEDIA_STORE: s3 needs MEDIA_S3_ENDPOINT, MEDIA_S3_BUCKET, MEDIA_S3_ACCESS_KEY and MEDIA_S3_SECRET_KEY"))
	}
	// The bot runs when it is switched on and has a Gemini to ask.
	cfg.Bot.Enabled = cfg.Bot.Enabled && (cfg.Gemini.APIKey != "" || cfg.Simulator)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// LoadDatabase reads DATABASE_URL alone, for `wainbox migrate` and `wainbox user create`, which
// need nothing else. They do not load the whole configuration because they run where only the
// database is configured (a migration step of a deployment, an operator's shell): requiring the
// WhatsApp credentials and AUTH_SECRET there would refuse to work for want of values these
// commands never use.
func LoadDatabase(lookup func(string) (string, bool)) (string, error) {
	var cfg Config
	if errs := load(&cfg, lookup, "DATABASE_URL"); len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return cfg.DatabaseURL, nil
}

// LoadSimulator reads what `wainbox simulate` shares with the instances it stands in Meta for:
// the business number and the token and secret it checks and signs with, each defaulting to the
// simulator's own as with SIMULATOR=1. It reads nothing else, for the same reason as
// LoadDatabase, and accepts any access token: the simulator alone is not a deployment.
func LoadSimulator(lookup func(string) (string, bool)) (*WhatsApp, error) {
	cfg := Config{Simulator: true}
	errs := load(&cfg, lookup, "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_PHONE_NUMBER_ID",
		"WHATSAPP_DISPLAY_PHONE_NUMBER", "WHATSAPP_BUSINESS_ACCOUNT_ID")
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &cfg.WhatsApp, nil
}
