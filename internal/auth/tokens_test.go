package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

// Every token belongs to a session, so logout and revocation reach every token: one signed with
// the right secret but without a session id is refused.
func TestTokenWithoutSessionIsRefused(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("s", 32))
	tokens, err := auth.NewTokens(&auth.Config{Secret: secret, TTL: time.Minute})
	require.NoError(t, err)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"role": auth.RoleAdmin, "iss": "wainbox", "sub": "1",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}).SignedString(secret)
	require.NoError(t, err)
	_, err = tokens.Verify(tok)
	require.ErrorIs(t, err, auth.ErrInvalidToken)

	// The same claims with a session id verify: the refusal is for the missing session alone.
	withSession, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"role": auth.RoleAdmin, "iss": "wainbox", "sub": "1", "sid": "0b7d5c1e-4f7a-4a57-9d0e-0f6f1e2a3b4c",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}).SignedString(secret)
	require.NoError(t, err)
	_, err = tokens.Verify(withSession)
	require.NoError(t, err)
}
