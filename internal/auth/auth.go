// Package auth hashes passwords, issues and checks access tokens, keeps sessions, and decides what
// a user may do. The domain's use cases and the WebSocket hub call the same functions here, so a
// permission is decided in one place.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Roles a user can have.
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleAgent      = "agent"
)

// ValidRole reports whether role is one of the three roles.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleSupervisor || role == RoleAgent
}

// Errors returned by token verification and login; the API maps each to a 401.
var (
	ErrInvalidToken       = errors.New("invalid access token")
	ErrExpiredToken       = errors.New("access token expired")
	ErrInvalidCredentials = errors.New("invalid email or password")
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID int64
	Role   string
	// ExpiresAt is when the token that authenticated the caller stops being valid.
	ExpiresAt time.Time
	// SessionID is the login the token belongs to.
	SessionID string
	// Permissions are the caller's current permissions, loaded with the session; nil means the
	// defaults of Role (see Perms).
	Permissions *Permissions
	// GroupIDs are the groups the caller belongs to, loaded with the session.
	GroupIDs []int64
}

// Config configures a Tokens issuer.
type Config struct {
	Secret []byte
	// TTL is the tokens' lifetime; wainbox's is config's ACCESS_TOKEN_TTL. Zero means 15 minutes,
	// only for the tests that build an issuer just to sign or verify.
	TTL time.Duration
	// Now is the clock; tests move it to expire tokens.
	Now func() time.Time
}

// Tokens issues and verifies access tokens: HS256 JWTs carrying the user id and role. They are
// short-lived so a role change or a disabled user takes effect within one TTL without a lookup per
// request.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// verified remembers tokens whose signature and claims checked out, so the next request
	// with the same token (an agent's panel sends one token for up to a TTL) does not decode and
	// verify it again: that was a tenth of a send request's CPU. Expiry is still checked on
	// every use; only a token that verified is ever a key.
	mu       sync.RWMutex
	verified map[string]Principal
}

// maxVerified bounds the verified-token cache; when full it starts over.
const maxVerified = 10_000

const issuer = "wainbox"

// NewTokens validates cfg and returns a token issuer.
func NewTokens(cfg *Config) (*Tokens, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("auth secret must be at least 32 bytes")
	}
	t := &Tokens{secret: cfg.Secret, ttl: cfg.TTL, now: cfg.Now, verified: make(map[string]Principal)}
	if t.ttl <= 0 {
		t.ttl = 15 * time.Minute
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

// TTL is how long issued tokens live.
func (t *Tokens) TTL() time.Duration { return t.ttl }

type claims struct {
	Role string `json:"role"`
	// Sid is the session id: requests check that the session is still live. Every token has
	// one, so logout and revocation reach every token.
	Sid string `json:"sid"`
	jwt.RegisteredClaims
}

// IssueSession signs an access token for the user's session sessionID.
func (t *Tokens) IssueSession(userID int64, role, sessionID string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Role: role,
		Sid:  sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   strconv.FormatInt(userID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("error signing access token: %w", err)
	}
	return s, exp, nil
}

// Verify checks the signature, issuer and expiry of an access token. It returns a new Principal
// on every call: callers complete it with the user's current permissions.
func (t *Tokens) Verify(token string) (*Principal, error) {
	t.mu.RLock()
	p, ok := t.verified[token]
	t.mu.RUnlock()
	if ok {
		if !t.now().Before(p.ExpiresAt) {
			return nil, ErrExpiredToken
		}
		return &p, nil
	}
	v, err := t.verify(token)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.verified) >= maxVerified {
		clear(t.verified)
	}
	t.verified[token] = *v
	t.mu.Unlock()
	return v, nil
}

func (t *Tokens) verify(token string) (*Principal, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return nil, ErrExpiredToken
	}
	if err != nil {
		return nil, ErrInvalidToken
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || !ValidRole(c.Role) || c.Sid == "" {
		return nil, ErrInvalidToken
	}
	return &Principal{UserID: id, Role: c.Role, ExpiresAt: c.ExpiresAt.Time, SessionID: c.Sid}, nil
}

// HashPassword hashes a password with bcrypt at cost (bcrypt.DefaultCost when 0).
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("error hashing password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when the user does not exist, so an unknown email costs as much
// time as a wrong password and login time does not reveal which emails are registered.
// It is made on first use so that importing the package costs nothing.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("wainbox-dummy-password"), bcrypt.DefaultCost)
	return h
})

// CheckPassword compares a password with a stored hash; an empty hash stands for an unknown user
// and still spends the time of one comparison.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, or nil for an unauthenticated request.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
