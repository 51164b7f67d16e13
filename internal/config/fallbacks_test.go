package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/bot"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// Config owns the defaults. Where a component still has a fallback of its own for the tests that
// build it directly and the fallback is a value a user would notice, it is config's default, so
// those tests and a running wainbox agree.
func TestComponentFallbacksAreConfigsDefaults(t *testing.T) {
	t.Parallel()
	require.Equal(t, lookupVar("WHATSAPP_API_VERSION").Default, whatsapp.DefaultVersion)
	require.Equal(t, lookupVar("BOT_HANDOFF_PHRASES").Default, strings.Join(bot.DefaultHandoffPhrases, ","))
}
