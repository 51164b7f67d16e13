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
	"net/url"
	"strconv"
	"strings"
	"time"
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

	AuthSecret     []byte
	AccessTokenTTL time.Duration

	LogFormat string
	LogLevel  slog.Level

	Simulator bool

	SendMaxAttempts int
	ShutdownTimeout time.Duration
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
}

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
	{"AUTH_SECRET", "", "at least 32 bytes signing access tokens; shared by all instances (required unless SIMULATOR=1, which makes a random one)"},
	{"ACCESS_TOKEN_TTL", "15m", "lifetime of an access token"},
	{"LOG_FORMAT", "json", "json or text"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"SIMULATOR", "0", "1 runs the simulator (fake Graph API, phone and Gemini) inside the process and points the clients at it"},
	{"SEND_MAX_ATTEMPTS", "10", "attempts for one outbound message before its job is discarded (dead letter) and the message fails"},
	{"SHUTDOWN_TIMEOUT", "30s", "how long SIGTERM waits for requests and running jobs"},
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
	if cfg.Gemini.BaseURL != "" {
		if u, err := url.Parse(cfg.Gemini.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("GEMINI_BASE_URL", "%q is not an http(s) URL", cfg.Gemini.BaseURL)
		}
	}

	if cfg.Simulator {
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
	if cfg.ShutdownTimeout, err = durationVar(get("SHUTDOWN_TIMEOUT"), 30*time.Second); err != nil {
		bad("SHUTDOWN_TIMEOUT", "%v", err)
	}
	if cfg.SendMaxAttempts, err = intVar(get("SEND_MAX_ATTEMPTS"), 10, 1, 100); err != nil {
		bad("SEND_MAX_ATTEMPTS", "%v", err)
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
