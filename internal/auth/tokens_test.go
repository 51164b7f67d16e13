package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/auth"
)

// Verify remembers tokens that verified; a remembered token must still expire on time, a
// changed one must still fail, and each caller gets its own Principal to complete.
func TestVerifyRemembersTokensButStillExpiresThem(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tokens, err := auth.NewTokens(&auth.Config{Secret: []byte(strings.Repeat("s", 32)), TTL: time.Minute, Now: func() time.Time { return now }})
	require.NoError(t, err)
	tok, _, err := tokens.IssueSession(7, auth.RoleAgent, "0b7d5c1e-4f7a-4a57-9d0e-0f6f1e2a3b4c")
	require.NoError(t, err)

	first, err := tokens.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, int64(7), first.UserID)
	first.Role, first.GroupIDs = auth.RoleAdmin, []int64{1} // as Authenticate completes it

	second, err := tokens.Verify(tok)
	require.NoError(t, err)
	require.NotSame(t, first, second)
	require.Equal(t, auth.RoleAgent, second.Role, "a caller's changes do not reach the next caller")
	require.Nil(t, second.GroupIDs)

	// The signature's first character changed (its last may only carry padding bits): not the
	// remembered token, and not valid.
	i := strings.LastIndexByte(tok, '.') + 1
	swap := byte('A')
	if tok[i] == 'A' {
		swap = 'B'
	}
	tampered := tok[:i] + string(swap) + tok[i+1:]
	_, err = tokens.Verify(tampered)
	require.ErrorIs(t, err, auth.ErrInvalidToken)

	now = now.Add(time.Minute)
	_, err = tokens.Verify(tok)
	require.ErrorIs(t, err, auth.ErrExpiredToken, "a remembered token expires on time")
}
