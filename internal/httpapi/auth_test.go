package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/httpapi"
)

// concretePath turns a route pattern into a path that matches it.
func concretePath(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	path = strings.NewReplacer("{id}", "1", "{$}", "").Replace(path)
	if strings.HasSuffix(path, "/") {
		path += "x"
	}
	return method, path
}

func TestEveryProtectedRouteRequiresAValidToken(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	_, agentTok := in.CreateUser("agent@example.com", auth.RoleAgent)

	expiredIssuer, err := auth.NewTokens(&auth.Config{
		Secret: []byte(apptest.TestSecret), TTL: time.Minute,
		Now: func() time.Time { return time.Now().Add(-time.Hour) },
	})
	require.NoError(t, err)
	expired, _, err := expiredIssuer.IssueSession(1, auth.RoleAdmin, uuid.NewString())
	require.NoError(t, err)
	otherSecret, err := auth.NewTokens(&auth.Config{Secret: []byte(strings.Repeat("z", 40))})
	require.NoError(t, err)
	forged, _, err := otherSecret.IssueSession(1, auth.RoleAdmin, uuid.NewString())
	require.NoError(t, err)
	tampered := agentTok[:len(agentTok)-3] + "AAA"

	protected := 0
	for _, rt := range in.Routes() {
		if rt.Access == httpapi.Public {
			continue
		}
		if rt.Access == httpapi.AdminBrowser {
			checkAdminBrowserRoute(t, in, rt)
			continue
		}
		protected++
		method, path := concretePath(rt.Pattern)
		for name, tok := range map[string]string{"none": "", "garbage": "not-a-jwt", "tampered": tampered, "forged": forged, "expired": expired} {
			resp := in.Request(method, path, tok, nil)
			require.Equal(t, http.StatusUnauthorized, resp.Status, "%s %s with %s token: %s", method, path, name, resp.Body)
			want := `"unauthorized"`
			if name == "expired" {
				want = `"token_expired"`
			}
			require.Contains(t, string(resp.Body), want)
		}
	}
	require.Greater(t, protected, 5)

	// Public routes stay public.
	in.Do("GET", "/healthz", "", nil, http.StatusOK, nil)
	in.Do("GET", "/readyz", "", nil, http.StatusOK, nil)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	_, err := in.Users.Create(t.Context(), auth.NewUser{Email: "Sam@Example.com", Name: "Sam", Role: auth.RoleSupervisor, Password: "long enough pw"})
	require.NoError(t, err)

	var ok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		User        struct {
			Email string `json:"email"`
			Role  string `json:"role"`
		} `json:"user"`
	}
	in.Do("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": "long enough pw"}, http.StatusOK, &ok)
	require.NotEmpty(t, ok.AccessToken)
	require.Equal(t, "Bearer", ok.TokenType)
	require.InDelta(t, 900, ok.ExpiresIn, 2)
	require.Equal(t, "supervisor", ok.User.Role)
	in.Do("GET", "/api/conversations", ok.AccessToken, nil, http.StatusOK, nil)

	for name, body := range map[string]any{
		"wrong password": map[string]string{"email": "sam@example.com", "password": "nope nope nope"},
		"unknown user":   map[string]string{"email": "who@example.com", "password": "long enough pw"},
	} {
		resp := in.Request("POST", "/api/auth/login", "", body)
		require.Equal(t, http.StatusUnauthorized, resp.Status, name)
		require.Contains(t, string(resp.Body), `"invalid_credentials"`, name)
	}
	resp := in.Request("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com"})
	require.Equal(t, http.StatusBadRequest, resp.Status)
}

func TestRequestIDIsEchoed(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	req, err := http.NewRequest("GET", in.URL+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "abc-123", resp.Header.Get("X-Request-Id"))

	resp2 := in.Request("GET", "/healthz", "", nil)
	require.Len(t, resp2.Header.Get("X-Request-Id"), 24, "a request id is made when none is given")
}

// checkAdminBrowserRoute: the admin UI takes an admin's password by Basic auth, never a bearer
// token, and refuses other roles.
func checkAdminBrowserRoute(t *testing.T, in *apptest.Instance, rt httpapi.Route) {
	t.Helper()
	method, path := concretePath(rt.Pattern)
	get := func(email, password string) int {
		req, err := http.NewRequest(method, in.URL+path, nil)
		require.NoError(t, err)
		if email != "" {
			req.SetBasicAuth(email, password)
		}
		resp, err := in.Client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, get("", ""))
	require.Equal(t, http.StatusUnauthorized, get("agent@example.com", "correct horse battery"), "agents are not admins")
	in.AdminToken()
	require.Equal(t, http.StatusUnauthorized, get("admin@example.com", "wrong password"))
	require.NotEqual(t, http.StatusUnauthorized, get("admin@example.com", "correct horse battery"))
}

// River UI starts on its first request (app.lazyRiverUI): an admin's first visit gets the job
// counts at once, and so do later ones.
func TestRiverUIStartsOnFirstVisit(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.AdminToken()
	for range 2 {
		req, err := http.NewRequest("GET", in.URL+"/admin/river/api/states", nil)
		require.NoError(t, err)
		req.SetBasicAuth("admin@example.com", "correct horse battery")
		resp, err := in.Client.Do(req)
		require.NoError(t, err)
		var counts map[string]json.RawMessage
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&counts))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, counts, "available")
	}
}

// TestLoginKeepsAnyUserAgent: the session records the browser's User-Agent, at most 200 bytes; a
// long one with accented letters where it is cut, or one with bytes that are not UTF-8 (a header
// is bytes), still logs in, and the stored text is valid.
func TestLoginKeepsAnyUserAgent(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("ua@example.com", auth.RoleAgent)
	for name, ua := range map[string]string{
		"accents across the cut": strings.Repeat("a", 199) + "éééé",
		"not UTF-8":              "Mozilla/5.0 (\xff\xfe Latin-1 caf\xe9)",
	} {
		body := strings.NewReader(`{"email":"ua@example.com","password":"` + testPassword + `"}`)
		req, err := http.NewRequest("POST", in.URL+"/api/auth/login", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", ua)
		resp, err := in.Client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", name, b)
	}
	// Kept as they came, made storable: cut before the accent rather than through it, and the
	// bytes that are not UTF-8 replaced.
	for _, want := range []string{strings.Repeat("a", 199), "Mozilla/5.0 (\uFFFD Latin-1 caf\uFFFD)"} {
		var n int
		require.NoError(t, in.Pool().QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE user_agent = $1`, want).Scan(&n))
		require.Equal(t, 1, n, "%q", want)
	}
}
