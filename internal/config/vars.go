package config

// This file holds the variable table: every environment variable with its default, parsing,
// checks and help, and what reads and prints them.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/businesshours"
)

// Var is one environment variable wainbox reads.
type Var struct {
	Name string
	// Default is the value the variable takes when it is unset or blank, written the way the
	// variable is; "" for none.
	Default string
	// Shown is how the help and README.md show the default (Markdown) when Default alone does not
	// say it: the variable is required, derived from another one, generated, or too long to show.
	// Empty shows Default.
	Shown string
	Help  string

	// set parses v (Default when the variable is unset or blank; trimmed) into c and checks it.
	// Its error is reported as "NAME: error"; a joined error as one such line for each.
	set func(c *Config, v string) error
	// keepEmpty makes a variable set to "" a value of its own rather than its default.
	keepEmpty bool
}

// ShownDefault is the default as the help and README.md show it, in Markdown.
func (v *Var) ShownDefault() string {
	switch {
	case v.Shown != "":
		return v.Shown
	case v.Default != "":
		return "`" + v.Default + "`"
	}
	return ""
}

// Vars is every variable wainbox reads, in the order `wainbox serve --help` and README.md list
// them. Only test helpers read others: WAINBOX_TEST_LOG (internal/apptest), and DATABASE_URL
// again in internal/devdb and cmd/wainbox-devdb, which find a database for make run and make test
// before wainbox starts.
var Vars = []Var{
	{Name: "DATABASE_URL", Shown: "(required; `make run` finds one)", Help: "PostgreSQL URL",
		set: func(c *Config, v string) error {
			if c.DatabaseURL = v; v == "" {
				return errors.New("is required (for example postgres://user@127.0.0.1:5432/wainbox)")
			}
			return nil
		}},
	{Name: "DATABASE_MAX_CONNS", Default: "20", Help: "size of the connection pool",
		set: func(c *Config, v string) error {
			n, err := parseInt(v, 2, 1000)
			c.DatabaseMaxConns = int32(n)
			return err
		}},
	{Name: "HTTP_ADDR", Default: ":8080", Help: "address the HTTP server listens on",
		set: func(c *Config, v string) error {
			c.HTTPAddr = v
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("%q is not host:port (%v)", v, err)
			}
			return nil
		}},
	{Name: "PUBLIC_BASE_URL", Shown: "`http://localhost:<port of HTTP_ADDR>`",
		Help: "where agents and Meta reach this instance (Origin checks, simulator webhook target)",
		set: func(c *Config, v string) error {
			if c.PublicBaseURL = strings.TrimRight(v, "/"); c.PublicBaseURL == "" {
				return nil
			}
			return checkHTTPURL(c.PublicBaseURL)
		}},
	{Name: "ALLOWED_ORIGINS", Help: "extra browser origins allowed besides PUBLIC_BASE_URL, comma-separated",
		set: func(c *Config, v string) error {
			var errs []error
			for _, o := range strings.Split(v, ",") {
				if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
					continue
				}
				if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
					errs = append(errs, fmt.Errorf("%q is not an origin like https://panel.example.com", o))
					continue
				}
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
			return errors.Join(errs...)
		}},
	{Name: "WHATSAPP_API_BASE_URL", Default: "https://graph.facebook.com", Help: "Graph API base URL (ignored with SIMULATOR=1)",
		set: func(c *Config, v string) error {
			c.WhatsApp.APIBaseURL = strings.TrimRight(v, "/")
			return checkHTTPURL(c.WhatsApp.APIBaseURL)
		}},
	{Name: "WHATSAPP_API_VERSION", Default: "v24.0", Help: "Graph API version",
		set: stringVar(func(c *Config) *string { return &c.WhatsApp.APIVersion })},
	{Name: "WHATSAPP_ACCESS_TOKEN", Shown: requiredUnlessSimulator, Help: "system-user access token",
		set: simulatedVar(SimAccessToken, true, func(c *Config) *string { return &c.WhatsApp.AccessToken })},
	{Name: "WHATSAPP_PHONE_NUMBER_ID", Shown: requiredUnlessSimulator, Help: "business phone number id",
		set: simulatedVar(SimPhoneNumberID, true, func(c *Config) *string { return &c.WhatsApp.PhoneNumberID })},
	{Name: "WHATSAPP_DISPLAY_PHONE_NUMBER", Help: "the number as customers see it, for display",
		set: simulatedVar(SimDisplayPhoneNumber, false, func(c *Config) *string { return &c.WhatsApp.DisplayPhoneNumber })},
	{Name: "WHATSAPP_BUSINESS_ACCOUNT_ID", Help: "WhatsApp Business Account id",
		set: simulatedVar(SimBusinessAccountID, false, func(c *Config) *string { return &c.WhatsApp.BusinessAccountID })},
	{Name: "WHATSAPP_APP_SECRET", Shown: requiredUnlessSimulator, Help: "Meta app secret that signs webhooks",
		set: simulatedVar(SimAppSecret, true, func(c *Config) *string { return &c.WhatsApp.AppSecret })},
	{Name: "WHATSAPP_VERIFY_TOKEN", Shown: requiredUnlessSimulator, Help: "token Meta echoes when verifying the webhook",
		set: simulatedVar(SimVerifyToken, true, func(c *Config) *string { return &c.WhatsApp.VerifyToken })},
	{Name: "GEMINI_API_KEY", Help: "Gemini API key; without it (and without the simulator) the bot is off",
		set: stringVar(func(c *Config) *string { return &c.Gemini.APIKey })},
	// Named rather than left to the Gemini client, which would otherwise take it from its own
	// GOOGLE_GEMINI_BASE_URL, a variable outside this table.
	{Name: "GEMINI_BASE_URL", Default: "https://generativelanguage.googleapis.com", Help: "Gemini API base URL (ignored with SIMULATOR=1)",
		set: func(c *Config, v string) error { c.Gemini.BaseURL = v; return checkHTTPURL(v) }},
	{Name: "GEMINI_MODEL", Default: "gemini-2.5-flash", Help: "Gemini model name",
		set: stringVar(func(c *Config) *string { return &c.Gemini.Model })},
	{Name: "GEMINI_TIMEOUT", Default: "15s", Help: "how long one Gemini call may take before it counts as failed and is retried; with the default a bot reply whose instance died runs again within a minute, a longer one delays that as much",
		set: durationVar(func(c *Config) *time.Duration { return &c.Gemini.Timeout })},
	{Name: "BOT_ENABLED", Default: "1", Help: "0 turns the bot off globally: new conversations start pending, for humans",
		set: boolVar(func(c *Config) *bool { return &c.Bot.Enabled })},
	{Name: "BOT_INSTRUCTIONS_FILE", Shown: "a generic one", Help: "text file with the bot's system instruction (business name, tone, hours, FAQ)",
		set: func(c *Config, v string) error {
			if c.Bot.InstructionsFile = v; v == "" {
				return nil
			}
			text, err := os.ReadFile(v)
			switch {
			case err != nil:
				return err
			case !utf8.Valid(text) || strings.TrimSpace(string(text)) == "":
				return fmt.Errorf("%s must be non-empty UTF-8 text", v)
			}
			c.Bot.Instructions = strings.TrimSpace(string(text))
			return nil
		}},
	{Name: "BOT_HISTORY_MESSAGES", Default: "20", Help: "how many recent messages of the conversation the bot sends Gemini as context",
		set: intVar(1, 200, func(c *Config) *int { return &c.Bot.HistoryMessages })},
	{Name: "BOT_HISTORY_CHARS", Default: "8000", Help: "cap on the characters of that context; older messages are dropped first",
		set: intVar(200, 500000, func(c *Config) *int { return &c.Bot.HistoryChars })},
	{Name: "BOT_MAX_REPLIES", Default: "5", Help: "bot replies in one session before it hands the conversation to a person",
		set: intVar(1, 1000, func(c *Config) *int { return &c.Bot.MaxReplies })},
	{Name: "BOT_HANDOFF_PHRASES", Default: "agente,humano,persona,asesor,operador,agent,human,person,representative,operator",
		Help: "comma-separated words or phrases with which a customer asks for a person (case and accents ignored)",
		set: func(c *Config, v string) error {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					c.Bot.HandoffPhrases = append(c.Bot.HandoffPhrases, p)
				}
			}
			return nil
		}},
	// Set but empty means "send no notice", which an unset variable cannot say.
	{Name: "BOT_HANDOFF_MESSAGE", Default: DefaultBotHandoffMessage, Shown: "a Spanish + English notice", keepEmpty: true,
		Help: `sent to the customer when the bot hands off (\n for a line break); set it empty to send nothing`,
		set: func(c *Config, v string) error {
			c.Bot.HandoffMessage = strings.TrimSpace(strings.ReplaceAll(v, `\n`, "\n"))
			return nil
		}},
	{Name: "BOT_DEBOUNCE", Default: "2s", Help: "how long the bot waits for more messages of a burst before it answers them at once",
		set: durationVar(func(c *Config) *time.Duration { return &c.Bot.Debounce })},
	{Name: "BOT_RETRY_BASE", Default: "2s", Help: "first backoff of a failed Gemini call (doubling; 4 attempts, then hand-off)",
		set: durationVar(func(c *Config) *time.Duration { return &c.Bot.RetryBase })},
	{Name: "AUTH_SECRET", Shown: requiredUnlessSimulator, Help: "at least 32 bytes signing access tokens; shared by all instances (SIMULATOR=1 makes a random one)",
		set: func(c *Config, v string) error {
			switch {
			case v != "" && len(v) < 32:
				return errors.New("must be at least 32 bytes (openssl rand -hex 32 makes one)")
			case v != "":
				c.AuthSecret = []byte(v)
			case c.Simulator:
				// A throwaway secret is fine for a local run: tokens die with the process.
				b := make([]byte, 32)
				_, _ = rand.Read(b)
				c.AuthSecret = []byte(hex.EncodeToString(b))
			default:
				return errors.New("is required unless SIMULATOR=1 (openssl rand -hex 32 makes one)")
			}
			return nil
		}},
	{Name: "ACCESS_TOKEN_TTL", Default: "15m", Help: "lifetime of an access token",
		set: durationVar(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
	{Name: "REFRESH_TOKEN_TTL", Default: "720h", Help: "lifetime of a refresh token (each refresh makes a new one)",
		set: durationVar(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
	{Name: "SESSION_CACHE_TTL", Default: "5s", Help: "how long an instance reuses a verified session before checking it again; revocations and permission changes still reach every instance at once through the events log",
		set: durationVar(func(c *Config) *time.Duration { return &c.SessionCacheTTL })},
	{Name: "LOGIN_MAX_FAILURES", Default: "5", Help: "failed logins of one account per LOGIN_FAILURE_WINDOW before 429",
		set: intVar(1, 1000, func(c *Config) *int { return &c.LoginMaxFailures })},
	{Name: "LOGIN_MAX_FAILURES_PER_IP", Default: "20", Help: "failed logins from one address per LOGIN_FAILURE_WINDOW before 429",
		set: intVar(1, 100000, func(c *Config) *int { return &c.LoginMaxFailuresPerIP })},
	{Name: "LOGIN_FAILURE_WINDOW", Default: "15m", Help: "sliding window of login throttling",
		set: durationVar(func(c *Config) *time.Duration { return &c.LoginFailureWindow })},
	{Name: "TRUSTED_PROXIES", Help: "comma-separated CIDRs of reverse proxies in front of wainbox; from a peer among them the client address (for login throttling) is the right-most X-Forwarded-For entry not itself a trusted proxy; otherwise X-Forwarded-For is ignored",
		set: func(c *Config, v string) error {
			var errs []error
			c.TrustedProxies, errs = parsePrefixes(v)
			return errors.Join(errs...)
		}},
	{Name: "CONVERSATION_LOCK_TTL", Default: "5m", Help: "lifetime of an agent's conversation lock (renewable by the holder)",
		set: durationVar(func(c *Config) *time.Duration { return &c.ConversationLockTTL })},
	{Name: "LOG_FORMAT", Default: "json", Shown: "`json`; `text` under `make run`", Help: "json or text",
		set: func(c *Config, v string) error {
			if c.LogFormat = v; v != "json" && v != "text" {
				return fmt.Errorf("%q is not json or text", v)
			}
			return nil
		}},
	{Name: "LOG_LEVEL", Default: "info", Help: "debug, info, warn or error",
		set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("%q is not debug, info, warn or error", v)
			}
			return nil
		}},
	// Load reads SIMULATOR before every other variable: it decides what they require and default to.
	{Name: "SIMULATOR", Default: "0", Shown: "`0`; `1` under `make run` without a token",
		Help: "1 runs the simulator (fake Graph API, phone and Gemini) inside the process and points the clients at it",
		set:  boolVar(func(c *Config) *bool { return &c.Simulator })},
	{Name: "SEND_MAX_ATTEMPTS", Default: "10", Help: "attempts for one outbound message before its job is discarded (dead letter) and the message fails",
		set: intVar(1, 100, func(c *Config) *int { return &c.SendMaxAttempts })},
	{Name: "SEND_RECONCILE_WINDOW", Default: "30s", Help: "how long a send whose outcome at Meta is unknown (crash, timeout, lost answer) waits for a status webhook proving it before it is sent again",
		set: durationVar(func(c *Config) *time.Duration { return &c.SendReconcileWindow })},
	{Name: "WHATSAPP_MAX_MESSAGES_PER_SECOND", Default: "80", Help: "sends per second of the business number, shared by all instances (Meta's default throughput); 0 turns pacing off",
		set: intVar(0, 100000, func(c *Config) *int { return &c.MaxMessagesPerSecond })},
	{Name: "HTTP_REQUEST_TIMEOUT", Default: "15s", Help: "longest an API request may run (WebSockets excepted); past it the answer is 503 unavailable",
		set: durationVar(func(c *Config) *time.Duration { return &c.HTTPRequestTimeout })},
	{Name: "HTTP_BODY_TIMEOUT", Default: "10s", Help: "longest a request body may take to arrive whole; past it the answer is 408 and the connection is closed",
		set: durationVar(func(c *Config) *time.Duration { return &c.HTTPBodyTimeout })},
	{Name: "HTTP_MAX_PUBLIC_BODIES", Default: "64", Help: "request bodies of unauthenticated callers (webhook, login, refresh) read at once; more are answered 503 with Retry-After",
		set: intVar(1, 100000, func(c *Config) *int { return &c.HTTPMaxPublicBodies })},
	{Name: "MEDIA_STORE", Default: "postgres", Help: "where files (customers' media, agents' uploads) are kept: postgres (in the database) or s3",
		set: func(c *Config, v string) error {
			if c.Media.Store = v; v != "postgres" && v != "s3" {
				return fmt.Errorf("%q is not postgres or s3", v)
			}
			return nil
		}},
	{Name: "MEDIA_S3_ENDPOINT", Help: "S3 service URL with MEDIA_STORE=s3, such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000",
		set: func(c *Config, v string) error { c.Media.S3.Endpoint = v; return nil }},
	{Name: "MEDIA_S3_REGION", Default: "us-east-1", Help: "the bucket's region",
		set: func(c *Config, v string) error { c.Media.S3.Region = v; return nil }},
	{Name: "MEDIA_S3_BUCKET", Help: "the bucket (it must exist)",
		set: func(c *Config, v string) error { c.Media.S3.Bucket = v; return nil }},
	{Name: "MEDIA_S3_ACCESS_KEY", Help: "access key id",
		set: func(c *Config, v string) error { c.Media.S3.AccessKey = v; return nil }},
	{Name: "MEDIA_S3_SECRET_KEY", Help: "secret access key",
		set: func(c *Config, v string) error { c.Media.S3.SecretKey = v; return nil }},
	{Name: "MEDIA_S3_PATH_STYLE", Default: "0", Help: "1 addresses the bucket in the path (MinIO and most self-hosted services)",
		set: boolVar(func(c *Config) *bool { return &c.Media.S3.PathStyle })},
	{Name: "MEDIA_RETENTION", Default: "keep", Help: "`keep`, or how long the files of a conversation with no message are kept (such as 8760h); the messages stay, marked deleted",
		set: func(c *Config, v string) (err error) {
			if v == "keep" {
				c.Media.Retention = 0
				return nil
			}
			c.Media.Retention, err = parseDuration(v)
			return err
		}},
	{Name: "MEDIA_TRANSFER_TIMEOUT", Default: "5m", Help: "longest one file may take to download from or upload to Meta, or through the API",
		set: durationVar(func(c *Config) *time.Duration { return &c.Media.TransferTimeout })},
	{Name: "MEDIA_RETRY_BASE", Default: "5s", Help: "first wait after a failed file transfer, doubling up to an hour (a customer's file is fetched for about a week)",
		set: durationVar(func(c *Config) *time.Duration { return &c.Media.RetryBase })},
	{Name: "MEDIA_WORKERS", Default: "4", Help: "file transfers one instance runs at once (each holds a database connection while it streams)",
		set: intVar(1, 100, func(c *Config) *int { return &c.Media.Workers })},
	{Name: "SHUTDOWN_TIMEOUT", Default: "30s", Help: "how long SIGTERM waits for requests and running jobs",
		set: durationVar(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{Name: "METRICS_TOKEN", Help: "bearer token (at least 16 bytes) a Prometheus scraper presents at GET /metrics; users with can_view_metrics may read it too",
		set: func(c *Config, v string) error {
			if c.MetricsToken = v; v != "" && len(v) < 16 {
				return errors.New("must be at least 16 bytes")
			}
			return nil
		}},
	{Name: "WHATSAPP_NUMBER_CHECK_INTERVAL", Default: "5m", Help: "how often at most Meta is asked for the business number's quality rating and messaging limit, which also proves the access token works (detailed health, /metrics)",
		set: durationVar(func(c *Config) *time.Duration { return &c.NumberCheckInterval })},
	{Name: "BUSINESS_TIMEZONE", Default: "UTC", Help: "the team's time zone (IANA, such as America/Bogota) for BUSINESS_HOURS",
		set: func(c *Config, v string) error {
			if _, err := time.LoadLocation(v); err != nil {
				return fmt.Errorf("unknown time zone %q", v)
			}
			c.BusinessTimezone = v
			return nil
		}},
	{Name: "BUSINESS_HOURS", Help: "the team's working week, such as `mon-fri 09:00-18:00; sat 10:00-14:00`, for reports' first response and resolution times in business hours (`?hours=business`); empty: none",
		set: func(c *Config, v string) (err error) {
			if v == "" {
				return nil
			}
			c.BusinessHours, err = businesshours.Parse(v, c.BusinessTimezone)
			return err
		}},
	{Name: "WS_MAX_SOCKETS_PER_USER", Default: "20", Help: "WebSockets one user may hold on one instance (many tabs); one more is closed with 4009 when it authenticates",
		set: intVar(1, 100000, func(c *Config) *int { return &c.WSMaxSocketsPerUser })},
	{Name: "WS_MAX_UNAUTHENTICATED_SOCKETS", Default: "256", Help: "WebSockets of one instance still to authenticate (5 s each at most); over it the upgrade is refused with 503",
		set: intVar(1, 1000000, func(c *Config) *int { return &c.WSMaxUnauthenticatedSockets })},
}

const requiredUnlessSimulator = "(required unless `SIMULATOR=1`)"

// load reads the named variables into cfg.
func load(cfg *Config, lookup func(string) (string, bool), names ...string) []error {
	var errs []error
	for _, name := range names {
		errs = append(errs, lookupVar(name).load(cfg, lookup)...)
	}
	return errs
}

func lookupVar(name string) *Var {
	for i := range Vars {
		if Vars[i].Name == name {
			return &Vars[i]
		}
	}
	panic("config: no variable " + name)
}

// load reads v into cfg and returns one "NAME: problem" error per problem.
func (v *Var) load(cfg *Config, lookup func(string) (string, bool)) []error {
	s, ok := lookup(v.Name)
	if s = strings.TrimSpace(s); s == "" && !(ok && v.keepEmpty) {
		s = v.Default
	}
	err := v.set(cfg, s)
	if err == nil {
		return nil
	}
	problems := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		problems = joined.Unwrap()
	}
	out := make([]error, len(problems))
	for i, p := range problems {
		out[i] = fmt.Errorf("%s: %w", v.Name, p)
	}
	return out
}

// WriteHelp writes one line per variable (the named ones, or all), in Vars' order: its name, its
// help and its default.
func WriteHelp(w io.Writer, names ...string) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for i := range Vars {
		v := &Vars[i]
		if len(names) > 0 && !slices.Contains(names, v.Name) {
			continue
		}
		line := v.Help
		switch def := strings.ReplaceAll(v.ShownDefault(), "`", ""); {
		case strings.HasPrefix(def, "("):
			line += " " + def
		case def != "":
			line += " (default " + def + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, line)
	}
	return tw.Flush()
}

func stringVar(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func boolVar(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *field(c), err = parseBool(v); return err }
}

func intVar(lo, hi int, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *field(c), err = parseInt(v, lo, hi); return err }
}

func durationVar(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *field(c), err = parseDuration(v); return err }
}

// simulatedVar sets a string that takes the simulator's value when it is unset with SIMULATOR=1;
// without the simulator a required one must be set.
func simulatedVar(simValue string, required bool, field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch {
		case v != "":
			*field(c) = v
		case c.Simulator:
			*field(c) = simValue
		case required:
			return errors.New("is required unless SIMULATOR=1")
		}
		return nil
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

func checkHTTPURL(v string) error {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", v)
	}
	return nil
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

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like 30s or 15m", v)
	}
	return d, nil
}

// parsePrefixes reads a comma-separated list of CIDRs, a bare address standing for itself alone,
// and returns one error per entry that is neither.
func parsePrefixes(v string) ([]netip.Prefix, []error) {
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
