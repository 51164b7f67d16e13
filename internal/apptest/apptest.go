// Package apptest runs whole wainbox instances for tests: a fresh database, the in-process
// simulator, a real HTTP listener on loopback, and helpers to log in and call the API. Several
// instances can share one database to test what crosses instances.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/app"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/dbtest"
)

// Instance is a running wainbox under test.
type Instance struct {
	*app.App
	URL      string
	Config   *config.Config
	T        testing.TB
	Client   *http.Client
	adminTok string
}

// Options configure an instance.
type Options struct {
	// DatabaseURL shares a database with another instance; empty creates a fresh one.
	DatabaseURL string
	// Env overrides environment variables of the configuration.
	Env map[string]string
}

// TestSecret is the AUTH_SECRET of test instances, shared so instances accept each other's tokens.
const TestSecret = "test-secret-test-secret-test-secret-0123456789"

// Start builds and starts an instance with SIMULATOR=1 on a loopback port, and stops it when the
// test ends.
func Start(t testing.TB, opts *Options) *Instance {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	url := opts.DatabaseURL
	if url == "" {
		_, url = dbtest.New(t)
	}
	env := map[string]string{
		"DATABASE_URL":       url,
		"HTTP_ADDR":          "127.0.0.1:0",
		"SIMULATOR":          "1",
		"AUTH_SECRET":        TestSecret,
		"LOG_FORMAT":         "text",
		"LOG_LEVEL":          "warn",
		"DATABASE_MAX_CONNS": "10",
		// A failed file transfer is tried again within a second, not in five.
		"MEDIA_RETRY_BASE": "100ms",
	}
	if os.Getenv("WAINBOX_TEST_LOG") != "" {
		env["LOG_LEVEL"] = "debug"
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)

	var logger *slog.Logger
	if os.Getenv("WAINBOX_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		w := &testWriter{t: t}
		// Registered first, so it runs last: background goroutines that log after the instance
		// stopped must not reach a finished test's log.
		t.Cleanup(w.close)
		logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, logger, &app.Options{BcryptCost: 4})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	t.Cleanup(func() { _ = a.Shutdown(10 * time.Second) })
	return &Instance{App: a, URL: a.BaseURL(), Config: cfg, T: t, Client: &http.Client{Timeout: 30 * time.Second}}
}

// testWriter sends the app's warnings and errors to the test log, where they show only for
// failing tests.
type testWriter struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// UserPassword is the password of the users CreateUser makes, for tests that log in as a person
// would (the panel's browser tests).
const UserPassword = "correct horse battery"

// CreateUser creates a user with the given role (password UserPassword) and returns its access
// token.
func (in *Instance) CreateUser(email, role string) (int64, string) {
	in.T.Helper()
	const password = UserPassword
	u, err := in.Users.Create(context.Background(), auth.NewUser{Email: email, Name: email, Role: role, Password: password})
	require.NoError(in.T, err)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	in.Do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password}, http.StatusOK, &out)
	return u.ID, out.AccessToken
}

// CustomerWrote records that customer waID wrote to the business at at, which opens the 24-hour
// window for free-form messages to them, on both sides: the contact's last_inbound_at in wainbox
// (as an inbound message sets it) and the customer's last message at the simulated Meta. Tests of
// agents' replies start from it; tests of the window itself send through the simulated phone.
func (in *Instance) CustomerWrote(waID string, at time.Time) {
	in.T.Helper()
	require.NoError(in.T, dbtest.CustomerWrote(context.Background(), in.Pool(), waID, at))
	if sim := in.Simulator(); sim != nil {
		sim.SetLastInbound(waID, at)
	}
}

// AdminToken returns the token of an admin created on first use.
func (in *Instance) AdminToken() string {
	if in.adminTok == "" {
		_, in.adminTok = in.CreateUser("admin@example.com", auth.RoleAdmin)
	}
	return in.adminTok
}

// Response is a raw answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Request sends body (JSON-encoded unless it is []byte or string) and returns the raw answer.
func (in *Instance) Request(method, path, token string, body any) *Response {
	in.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(in.T, err)
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, in.URL+path, r)
	require.NoError(in.T, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := in.Client.Do(req)
	require.NoError(in.T, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(in.T, err)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Do sends a request, requires wantStatus and decodes the JSON answer into out (when not nil).
func (in *Instance) Do(method, path, token string, body any, wantStatus int, out any) *Response {
	in.T.Helper()
	resp := in.Request(method, path, token, body)
	require.Equal(in.T, wantStatus, resp.Status, "%s %s answered %s", method, path, resp.Body)
	if out != nil {
		require.NoError(in.T, json.Unmarshal(resp.Body, out), "body: %s", resp.Body)
	}
	return resp
}
