package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadSimulatorDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}))
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.HTTPAddr)
	require.Equal(t, "v24.0", cfg.WhatsApp.APIVersion)
	require.Equal(t, SimPhoneNumberID, cfg.WhatsApp.PhoneNumberID)
	require.Equal(t, SimAppSecret, cfg.WhatsApp.AppSecret)
	require.Len(t, cfg.AuthSecret, 64, "a random secret for a local run")
	require.Equal(t, 15*time.Minute, cfg.AccessTokenTTL)
	require.Equal(t, 10, cfg.SendMaxAttempts)
	require.Equal(t, "json", cfg.LogFormat)
}

func TestLoadKeepsGivenWhatsAppValuesWithSimulator(t *testing.T) {
	t.Parallel()
	cfg, err := Load(env(map[string]string{
		"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "true",
		"WHATSAPP_PHONE_NUMBER_ID": "999", "WHATSAPP_APP_SECRET": "mine",
	}))
	require.NoError(t, err)
	require.Equal(t, "999", cfg.WhatsApp.PhoneNumberID)
	require.Equal(t, "mine", cfg.WhatsApp.AppSecret)
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"HTTP_ADDR":             "8080",
		"PUBLIC_BASE_URL":       "ftp://x",
		"AUTH_SECRET":           "short",
		"LOG_FORMAT":            "xml",
		"LOG_LEVEL":             "loud",
		"SEND_MAX_ATTEMPTS":     "0",
		"ACCESS_TOKEN_TTL":      "-1m",
		"SIMULATOR":             "maybe",
		"ALLOWED_ORIGINS":       "not an origin",
		"WHATSAPP_API_BASE_URL": "graph",
	}))
	require.Error(t, err)
	for _, name := range []string{
		"DATABASE_URL", "HTTP_ADDR", "PUBLIC_BASE_URL", "AUTH_SECRET", "LOG_FORMAT", "LOG_LEVEL",
		"SEND_MAX_ATTEMPTS", "ACCESS_TOKEN_TTL", "SIMULATOR", "ALLOWED_ORIGINS", "WHATSAPP_API_BASE_URL",
		"WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
	} {
		require.Contains(t, err.Error(), name+":", "the error names %s", name)
	}
	require.Len(t, strings.Split(err.Error(), "\n"), 15, "one line per problem")
}

func TestEveryVariableIsDocumented(t *testing.T) {
	t.Parallel()
	documented := map[string]bool{}
	for _, v := range Vars {
		documented[v.Name] = true
	}
	read := map[string]bool{}
	_, _ = Load(func(k string) (string, bool) { read[k] = true; return "", false })
	for name := range read {
		require.True(t, documented[name], "%s is read but not in Vars", name)
	}
	require.Len(t, Vars, len(read))
}

// The simulator's routes are open to anyone, so a real access token (anything but the simulator's
// own) with SIMULATOR=1 is refused: that is a real deployment with the simulator left on.
func TestLoadRefusesTheSimulatorWithARealToken(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}
	for token, ok := range map[string]bool{"": true, SimAccessToken: true, "EAAG-a-real-token": false} {
		e := map[string]string{"WHATSAPP_ACCESS_TOKEN": token}
		for k, v := range base {
			e[k] = v
		}
		_, err := Load(env(e))
		if ok {
			require.NoError(t, err, "token %q", token)
			continue
		}
		require.Error(t, err)
		require.Equal(t, "SIMULATOR: must not be 1 with a real WHATSAPP_ACCESS_TOKEN: the simulator's routes are open to anyone", err.Error())
	}
	_, err := Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "WHATSAPP_ACCESS_TOKEN": "EAAG-a-real-token",
		"WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v", "AUTH_SECRET": strings.Repeat("s", 32)}))
	require.NoError(t, err, "the same token without the simulator is a real deployment")
}

func TestLoadBodyLimits(t *testing.T) {
	t.Parallel()
	cfg, err := Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}))
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, cfg.HTTPBodyTimeout)
	require.Equal(t, 64, cfg.HTTPMaxPublicBodies)
	cfg, err = Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1",
		"HTTP_BODY_TIMEOUT": "2s", "HTTP_MAX_PUBLIC_BODIES": "8"}))
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, cfg.HTTPBodyTimeout)
	require.Equal(t, 8, cfg.HTTPMaxPublicBodies)
	_, err = Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1",
		"HTTP_BODY_TIMEOUT": "0s", "HTTP_MAX_PUBLIC_BODIES": "0"}))
	require.ErrorContains(t, err, "HTTP_BODY_TIMEOUT:")
	require.ErrorContains(t, err, "HTTP_MAX_PUBLIC_BODIES:")
}

func TestLoadWebSocketCaps(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}
	cfg, err := Load(env(base))
	require.NoError(t, err)
	require.Equal(t, 20, cfg.WSMaxSocketsPerUser, "room for an agent's many tabs")
	require.Equal(t, 256, cfg.WSMaxUnauthenticatedSockets)

	base["WS_MAX_SOCKETS_PER_USER"], base["WS_MAX_UNAUTHENTICATED_SOCKETS"] = "5000", "1000"
	cfg, err = Load(env(base))
	require.NoError(t, err)
	require.Equal(t, 5000, cfg.WSMaxSocketsPerUser)
	require.Equal(t, 1000, cfg.WSMaxUnauthenticatedSockets)

	base["WS_MAX_SOCKETS_PER_USER"], base["WS_MAX_UNAUTHENTICATED_SOCKETS"] = "0", "many"
	_, err = Load(env(base))
	require.Error(t, err)
	require.Contains(t, err.Error(), "WS_MAX_SOCKETS_PER_USER:")
	require.Contains(t, err.Error(), "WS_MAX_UNAUTHENTICATED_SOCKETS:")
	require.Len(t, strings.Split(err.Error(), "\n"), 2, "one line per problem")
}

// The bot runs when BOT_ENABLED is on and it has a Gemini to ask: GEMINI_API_KEY's, or the
// simulator's fake.
func TestLoadDecidesWhetherTheBotRuns(t *testing.T) {
	t.Parallel()
	real := map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "WHATSAPP_ACCESS_TOKEN": "t",
		"WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v", "AUTH_SECRET": strings.Repeat("s", 32)}
	sim := map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}
	with := func(base map[string]string, kv ...string) map[string]string {
		e := map[string]string{}
		for k, v := range base {
			e[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"no key, no simulator", real, false},
		{"a key", with(real, "GEMINI_API_KEY", "k"), true},
		{"a key, switched off", with(real, "GEMINI_API_KEY", "k", "BOT_ENABLED", "0"), false},
		{"the simulator", sim, true},
		{"the simulator, switched off", with(sim, "BOT_ENABLED", "false"), false},
	} {
		cfg, err := Load(env(tt.env))
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, cfg.Bot.Enabled, tt.name)
	}
	cfg, err := Load(env(sim))
	require.NoError(t, err)
	require.Empty(t, cfg.Gemini.APIKey, "the simulator's fake Gemini needs no key of the user's")
}

func TestLoadDatabaseReadsOnlyTheDatabase(t *testing.T) {
	t.Parallel()
	read := map[string]bool{}
	url, err := LoadDatabase(func(k string) (string, bool) {
		read[k] = true
		return map[string]string{"DATABASE_URL": " postgres://x@localhost/db "}[k], k == "DATABASE_URL"
	})
	require.NoError(t, err, "no WhatsApp credentials nor AUTH_SECRET needed")
	require.Equal(t, "postgres://x@localhost/db", url)
	require.Equal(t, map[string]bool{"DATABASE_URL": true}, read)

	_, err = LoadDatabase(env(nil))
	require.EqualError(t, err, "DATABASE_URL: is required (for example postgres://user@127.0.0.1:5432/wainbox)")
}

func TestLoadSimulatorDefaultsToTheSimulatorsValues(t *testing.T) {
	t.Parallel()
	wa, err := LoadSimulator(env(nil))
	require.NoError(t, err)
	require.Equal(t, &WhatsApp{AccessToken: SimAccessToken, AppSecret: SimAppSecret, PhoneNumberID: SimPhoneNumberID,
		DisplayPhoneNumber: SimDisplayPhoneNumber, BusinessAccountID: SimBusinessAccountID}, wa)
	wa, err = LoadSimulator(env(map[string]string{"WHATSAPP_ACCESS_TOKEN": "EAAG-any", "WHATSAPP_PHONE_NUMBER_ID": "999"}))
	require.NoError(t, err, "the simulator alone takes any token")
	require.Equal(t, "EAAG-any", wa.AccessToken)
	require.Equal(t, "999", wa.PhoneNumberID)
	require.Equal(t, SimAppSecret, wa.AppSecret)
}

func TestWriteHelp(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	require.NoError(t, WriteHelp(&all))
	lines := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	require.Len(t, lines, len(Vars), "one line per variable")
	require.Regexp(t, `^  DATABASE_URL +PostgreSQL URL \(required; make run finds one\)$`, lines[0])
	require.Regexp(t, `^  DATABASE_MAX_CONNS +size of the connection pool \(default 20\)$`, lines[1])
	require.Regexp(t, `^  ALLOWED_ORIGINS +extra browser origins allowed besides PUBLIC_BASE_URL, comma-separated$`, lines[4])

	var some strings.Builder
	require.NoError(t, WriteHelp(&some, "DATABASE_URL"))
	require.Equal(t, "  DATABASE_URL  PostgreSQL URL (required; make run finds one)\n", some.String())
}

// Unset and blank take the default; BOT_HANDOFF_MESSAGE set but empty sends no notice.
func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1", "HTTP_ADDR": "  "}))
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.HTTPAddr)
	require.Equal(t, int32(20), cfg.DatabaseMaxConns)
	require.Equal(t, DefaultBotHandoffMessage, cfg.Bot.HandoffMessage)
	require.Equal(t, []string{"agente", "humano", "persona", "asesor", "operador", "agent", "human", "person", "representative", "operator"},
		cfg.Bot.HandoffPhrases)
	require.Equal(t, 720*time.Hour, cfg.RefreshTokenTTL)
	require.Equal(t, slog.LevelInfo, cfg.LogLevel)

	cfg, err = Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1", "BOT_HANDOFF_MESSAGE": ""}))
	require.NoError(t, err)
	require.Empty(t, cfg.Bot.HandoffMessage)
	cfg, err = Load(env(map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1", "BOT_HANDOFF_MESSAGE": `Un momento.\nOne moment.`}))
	require.NoError(t, err)
	require.Equal(t, "Un momento.\nOne moment.", cfg.Bot.HandoffMessage)
}

func TestLoadMedia(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}
	cfg, err := Load(env(base))
	require.NoError(t, err)
	require.Equal(t, "postgres", cfg.Media.Store, "files live in the database unless told otherwise")
	require.Zero(t, cfg.Media.Retention, "keep")
	require.Equal(t, 5*time.Minute, cfg.Media.TransferTimeout)
	require.Equal(t, 4, cfg.Media.Workers)

	base["MEDIA_STORE"], base["MEDIA_RETENTION"] = "s3", "8760h"
	base["MEDIA_S3_ENDPOINT"], base["MEDIA_S3_BUCKET"] = "http://127.0.0.1:9000", "wainbox"
	base["MEDIA_S3_ACCESS_KEY"], base["MEDIA_S3_SECRET_KEY"], base["MEDIA_S3_PATH_STYLE"] = "key", "secret", "1"
	cfg, err = Load(env(base))
	require.NoError(t, err)
	require.Equal(t, S3{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", Bucket: "wainbox", AccessKey: "key", SecretKey: "secret", PathStyle: true}, cfg.Media.S3)
	require.Equal(t, 365*24*time.Hour, cfg.Media.Retention)

	delete(base, "MEDIA_S3_BUCKET")
	base["MEDIA_RETENTION"], base["MEDIA_WORKERS"] = "forever", "0"
	_, err = Load(env(base))
	require.Error(t, err)
	for _, says := range []string{"MEDIA_STORE: s3 needs", "MEDIA_RETENTION:", "MEDIA_WORKERS:"} {
		require.Contains(t, err.Error(), says)
	}
	base["MEDIA_STORE"] = "disk"
	_, err = Load(env(base))
	require.ErrorContains(t, err, `MEDIA_STORE: "disk" is not postgres or s3`)
}
