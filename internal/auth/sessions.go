package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// Session errors; the API answers each with a 401.
var (
	// ErrInvalidRefreshToken: unknown, expired, or of a revoked session.
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrRefreshTokenReused: the token was already used; its whole session has been revoked.
	ErrRefreshTokenReused = errors.New("refresh token already used; session revoked")
	// ErrSessionRevoked: the access token's session was revoked or its user disabled.
	ErrSessionRevoked = errors.New("session revoked")
)

// Revoke reasons stored on sessions.
const (
	RevokeLogout   = "logout"
	RevokeReuse    = "reuse"
	RevokeAdmin    = "admin"
	RevokeDisabled = "disabled"
	// RevokePassword: the user's password changed (an admin's reset ends every session, the
	// user's own change every other one).
	RevokePassword = "password"
)

// SessionsConfig configures Sessions.
type SessionsConfig struct {
	Pool   *pgxpool.Pool
	Tokens *Tokens
	// RefreshTTL is a refresh token's lifetime (required; wainbox's is config's REFRESH_TOKEN_TTL).
	RefreshTTL time.Duration
	// Events carries revocations and permission changes to every instance's hub and cache.
	Events *eventlog.Log
	// CacheTTL is how long a verified session's principal is reused without a query (required;
	// wainbox's is config's SESSION_CACHE_TTL); a negative value disables the cache.
	CacheTTL time.Duration
}

// Sessions are logins: each has a family of single-use refresh tokens and is checked by every
// authenticated request, so logout, revocation and disabling a user take effect at once.
type Sessions struct {
	pool       *pgxpool.Pool
	tokens     *Tokens
	refreshTTL time.Duration
	events     *eventlog.Log
	q          *db.Queries

	// The principal cache spares the session query on most requests. It is emptied when this
	// instance revokes a session or changes permissions (after the commit, before answering) and
	// when any instance's change reaches this one through the events log (milliseconds later), so
	// a revocation applies at once here and within milliseconds elsewhere; cacheTTL bounds
	// staleness if an instance's listener is down.
	cacheTTL time.Duration
	cacheMu  sync.Mutex
	cache    map[uuid.UUID]cachedSession
}

type cachedSession struct {
	row     db.SessionPrincipalRow
	expires time.Time
}

// NewSessions validates cfg and returns Sessions.
func NewSessions(cfg *SessionsConfig) (*Sessions, error) {
	if cfg.Pool == nil || cfg.Tokens == nil {
		return nil, errors.New("auth: Pool and Tokens are required")
	}
	if cfg.RefreshTTL <= 0 || cfg.CacheTTL == 0 {
		return nil, errors.New("auth: RefreshTTL and CacheTTL are required")
	}
	s := &Sessions{pool: cfg.Pool, tokens: cfg.Tokens, refreshTTL: cfg.RefreshTTL, events: cfg.Events, q: db.New(),
		cacheTTL: cfg.CacheTTL, cache: map[uuid.UUID]cachedSession{}}
	return s, nil
}

// Tokens is the access token issuer.
func (s *Sessions) Tokens() *Tokens { return s.tokens }

// Grant is what a login or a refresh hands out.
type Grant struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	SessionID        string
	UserID           int64
	Role             string
}

// Start opens a session for a user who just proved their password.
func (s *Sessions) Start(ctx context.Context, user *db.User, userAgent, ip string) (*Grant, error) {
	id := uuid.New()
	var g *Grant
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		exp := time.Now().Add(s.refreshTTL)
		if _, err := s.q.SessionCreate(ctx, tx, db.SessionCreateParams{
			ID: id, UserID: user.ID, UserAgent: database.Text(userAgent, 200), Ip: ip, ExpiresAt: exp,
		}); err != nil {
			return fmt.Errorf("error creating session: %w", err)
		}
		var err error
		g, err = s.grant(ctx, tx, id, user.ID, user.Role, exp)
		return err
	})
	return g, err
}

func (s *Sessions) grant(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID, userID int64, role string, exp time.Time) (*Grant, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("error making refresh token: %w", err)
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	if err := s.q.RefreshTokenInsert(ctx, tx, db.RefreshTokenInsertParams{
		TokenHash: hashToken(refresh), SessionID: sessionID, ExpiresAt: exp,
	}); err != nil {
		return nil, fmt.Errorf("error storing refresh token: %w", err)
	}
	access, accessExp, err := s.tokens.IssueSession(userID, role, sessionID.String())
	if err != nil {
		return nil, err
	}
	return &Grant{
		AccessToken: access, AccessExpiresAt: accessExp, RefreshToken: refresh, RefreshExpiresAt: exp,
		SessionID: sessionID.String(), UserID: userID, Role: role,
	}, nil
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// Refresh spends a refresh token and returns a new access and refresh token of the same session.
// A token that was already used revokes its session (someone holds a copy: token theft) and
// answers ErrRefreshTokenReused; of concurrent refreshes with one token exactly one succeeds.
func (s *Sessions) Refresh(ctx context.Context, refresh string) (*Grant, error) {
	if refresh == "" || len(refresh) > 100 {
		return nil, ErrInvalidRefreshToken
	}
	hash := hashToken(refresh)
	var (
		g      *Grant
		reused *db.RefreshTokenGetRow
	)
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		used, err := s.q.RefreshTokenUse(ctx, tx, hash)
		if errors.Is(err, pgx.ErrNoRows) {
			row, err := s.q.RefreshTokenGet(ctx, tx, hash)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrInvalidRefreshToken
			}
			if err != nil {
				return fmt.Errorf("error loading refresh token: %w", err)
			}
			if row.UsedAt == nil {
				return ErrInvalidRefreshToken // expired, or its session is revoked
			}
			reused = &row
			return s.revokeTx(ctx, tx, row.SessionID, row.UserID, RevokeReuse)
		}
		if err != nil {
			return fmt.Errorf("error using refresh token: %w", err)
		}
		user, err := s.q.UserGetByID(ctx, tx, used.UserID)
		if err != nil {
			return fmt.Errorf("error loading user %d: %w", used.UserID, err)
		}
		if user.DisabledAt != nil {
			return ErrInvalidRefreshToken
		}
		exp := time.Now().Add(s.refreshTTL)
		if err := s.q.SessionTouch(ctx, tx, db.SessionTouchParams{ID: used.SessionID, ExpiresAt: exp}); err != nil {
			return fmt.Errorf("error touching session: %w", err)
		}
		g, err = s.grant(ctx, tx, used.SessionID, user.ID, user.Role, exp)
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused != nil {
		return nil, fmt.Errorf("session %s of user %d: %w", reused.SessionID, reused.UserID, ErrRefreshTokenReused)
	}
	return g, nil
}

// Logout revokes one session: its refresh tokens and its access tokens stop working.
func (s *Sessions) Logout(ctx context.Context, p *Principal) error {
	id, err := uuid.Parse(p.SessionID)
	if err != nil {
		return ErrInvalidToken
	}
	return database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return s.revokeTx(ctx, tx, id, p.UserID, RevokeLogout)
	})
}

// revokeTx revokes one live session inside tx and writes the event that closes its sockets; a
// session already revoked changes nothing.
func (s *Sessions) revokeTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, userID int64, reason string) error {
	_, err := s.q.SessionRevoke(ctx, tx, db.SessionRevokeParams{ID: id, Reason: &reason})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("error revoking session %s: %w", id, err)
	}
	return s.revokedEvent(ctx, tx, userID, []uuid.UUID{id}, false, reason)
}

// RevokeAllTx revokes every live session of a user inside tx and writes the event that closes
// their sockets.
func (s *Sessions) RevokeAllTx(ctx context.Context, tx pgx.Tx, userID int64, reason string) error {
	ids, err := s.q.SessionRevokeAllOfUser(ctx, tx, db.SessionRevokeAllOfUserParams{UserID: userID, Reason: &reason})
	if err != nil {
		return fmt.Errorf("error revoking sessions of user %d: %w", userID, err)
	}
	return s.revokedEvent(ctx, tx, userID, ids, true, reason)
}

// revokeOthersTx revokes every live session of a user but keep inside tx and writes the event
// that closes their sockets.
func (s *Sessions) revokeOthersTx(ctx context.Context, tx pgx.Tx, userID int64, keep uuid.UUID, reason string) error {
	ids, err := s.q.SessionRevokeOthersOfUser(ctx, tx, db.SessionRevokeOthersOfUserParams{UserID: userID, Keep: keep, Reason: &reason})
	if err != nil {
		return fmt.Errorf("error revoking sessions of user %d: %w", userID, err)
	}
	return s.revokedEvent(ctx, tx, userID, ids, false, reason)
}

// SessionsRevokedEvent is the payload of a user.sessions_revoked event. SessionIDs empty with
// All set means every session of the user.
type SessionsRevokedEvent struct {
	UserID     int64    `json:"user_id"`
	SessionIDs []string `json:"session_ids"`
	All        bool     `json:"all"`
	Reason     string   `json:"reason"`
}

func (s *Sessions) revokedEvent(ctx context.Context, tx pgx.Tx, userID int64, ids []uuid.UUID, all bool, reason string) error {
	ev := SessionsRevokedEvent{UserID: userID, SessionIDs: make([]string, len(ids)), Reason: reason, All: all}
	for i, id := range ids {
		ev.SessionIDs[i] = id.String()
	}
	return s.accessChanged(ctx, tx, eventlog.Event{Kind: eventlog.SessionsRevoked, Payload: ev})
}

// permissionsChanged writes a user.permissions_changed event for each user.
func (s *Sessions) permissionsChanged(ctx context.Context, tx pgx.Tx, userIDs ...int64) error {
	events := make([]eventlog.Event, len(userIDs))
	for i, id := range userIDs {
		events[i] = eventlog.Event{Kind: eventlog.PermissionsChanged, Payload: map[string]int64{"user_id": id}}
	}
	return s.accessChanged(ctx, tx, events...)
}

// accessChanged writes events that change who may do what. They belong to no conversation: the
// hub of every instance hands them to no client and acts on them itself. Once tx has committed,
// this instance forgets its cached principals before the caller answers, and the doorbell carries
// the change to the other instances.
func (s *Sessions) accessChanged(ctx context.Context, tx pgx.Tx, events ...eventlog.Event) error {
	if len(events) == 0 {
		return nil
	}
	if !database.AfterCommit(tx, s.Forget) {
		return errors.New("access changes must be written in a transaction of database.InTx")
	}
	return s.events.AppendAll(ctx, tx, events...)
}

// Forget empties the principal cache. The realtime listener calls it when the log carries a
// revocation or permission change from any instance. Changes are rare, so the whole cache goes
// rather than the affected user's entries.
func (s *Sessions) Forget() {
	s.cacheMu.Lock()
	clear(s.cache)
	s.cacheMu.Unlock()
}

func (s *Sessions) cached(id uuid.UUID) (db.SessionPrincipalRow, bool) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c, ok := s.cache[id]
	if !ok || time.Now().After(c.expires) {
		return db.SessionPrincipalRow{}, false
	}
	return c.row, true
}

func (s *Sessions) remember(id uuid.UUID, row db.SessionPrincipalRow) {
	if s.cacheTTL < 0 {
		return
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if len(s.cache) >= 10_000 {
		clear(s.cache)
	}
	s.cache[id] = cachedSession{row: row, expires: time.Now().Add(s.cacheTTL)}
}

// Authenticate verifies an access token and loads its principal as it is now: the session live,
// the user enabled, with their current role, permissions and groups. It costs one primary-key
// lookup per session every few seconds (see the cache on Sessions), which buys revocation,
// disabling and permission changes that apply at the next request instead of up to one
// access-token lifetime later.
func (s *Sessions) Authenticate(ctx context.Context, token string) (*Principal, error) {
	p, err := s.tokens.Verify(token)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(p.SessionID)
	if err != nil {
		return nil, ErrInvalidToken
	}
	row, hit := s.cached(id)
	if !hit {
		row, err = s.q.SessionPrincipal(ctx, s.pool, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrSessionRevoked
		}
		if err != nil {
			return nil, fmt.Errorf("error loading session: %w", err)
		}
		if row.UserID == p.UserID && row.RevokedAt == nil && row.DisabledAt == nil {
			s.remember(id, row)
		}
	}
	if row.UserID != p.UserID || row.RevokedAt != nil || row.DisabledAt != nil {
		return nil, ErrSessionRevoked
	}
	perms := Resolve(row.Role, Overrides{
		ReadChats: row.CanReadChats, WriteChats: row.CanWriteChats, ManageTemplates: row.CanManageTemplates,
		ManageUsers: row.CanManageUsers, ViewMetrics: row.CanViewMetrics, UseTags: row.CanUseTags,
		ViewReports: row.CanViewReports, ExportData: row.CanExportData,
	})
	p.Role = row.Role
	p.Permissions = &perms
	p.GroupIDs = row.GroupIds
	return p, nil
}

// Verify is Authenticate with a bounded background context, the shape the real-time service's
// TokenVerifier takes, so a socket is refused for a revoked session or a disabled user too.
func (s *Sessions) Verify(token string) (*Principal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Authenticate(ctx, token)
}
