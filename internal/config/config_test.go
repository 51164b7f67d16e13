package config

import (
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
