package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadTrustedProxies(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"DATABASE_URL": "postgres://x@localhost/db", "SIMULATOR": "1"}
	cfg, err := Load(env(vars))
	require.NoError(t, err)
	require.Empty(t, cfg.TrustedProxies, "no proxy is trusted unless configured")

	vars["TRUSTED_PROXIES"] = " 10.1.2.3/8, 192.168.1.7 ,fd00::/8,,::1"
	cfg, err = Load(env(vars))
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("::1/128"),
	}, cfg.TrustedProxies)

	vars["TRUSTED_PROXIES"] = "10.0.0.0/8,10.0.0.0/33,proxy.internal"
	_, err = Load(env(vars))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, "one line per bad entry: %v", err)
	require.Contains(t, lines[0], `TRUSTED_PROXIES: "10.0.0.0/33"`)
	require.Contains(t, lines[1], `TRUSTED_PROXIES: "proxy.internal"`)
}
