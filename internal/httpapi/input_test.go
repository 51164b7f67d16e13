package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// errorAnswer is the error shape with the field it names.
type errorAnswer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// Bytes PostgreSQL cannot store in text (NUL, invalid UTF-8) and values past a hard limit are bad
// input: every one is refused at the edge with 400 invalid_request naming the field, never a 500
// from the database.
func TestBadBytesAreRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, _ := startConversation(t, in, tok, "16505550142")
	userID, _ := in.CreateUser("agent@example.com", auth.RoleAgent)
	conv := fmt.Sprintf("/api/conversations/%d", convID)
	long := strings.Repeat("p", 73)

	for _, tc := range []struct {
		name, method, path, token, body, field string
	}{
		{"NUL in a message body", "POST", conv + "/messages", tok, `{"client_id":"` + uuid.NewString() + `","type":"text","text":{"body":"a\u0000b"}}`, "text.body"},
		{"NUL in a first message", "POST", "/api/conversations", tok, `{"wa_id":"16505550143","client_id":"` + uuid.NewString() + `","type":"text","text":{"body":"\u0000"}}`, "text.body"},
		{"NUL in a note", "POST", conv + "/notes", tok, `{"body":"note \u0000"}`, "body"},
		{"NUL in a tag", "POST", conv + "/tags", tok, `{"tag":"vip\u0000"}`, "tag"},
		{"NUL in a tag to remove", "DELETE", conv + "/tags/vip%00", tok, "", "path"},
		{"NUL in ?tag=", "GET", "/api/conversations?tag=%00", tok, "", "tag"},
		{"NUL in ?q=", "GET", "/api/conversations?q=ana%00", tok, "", "q"},
		{"invalid UTF-8 in ?q=", "GET", "/api/conversations?q=%ff%fe", tok, "", "q"},
		{"NUL in a group name", "POST", "/api/groups", tok, `{"name":"sales\u0000"}`, "name"},
		{"NUL in a new user's name", "POST", "/api/users", tok, `{"email":"x@example.com","name":"X\u0000","role":"agent","password":"long enough pw"}`, "name"},
		{"NUL in a user's name", "PATCH", fmt.Sprintf("/api/users/%d", userID), tok, `{"name":"\u0000"}`, "name"},
		{"NUL in a login email", "POST", "/api/auth/login", "", `{"email":"admin@example.com\u0000","password":"correct horse battery"}`, "email"},
		{"NUL in a login password", "POST", "/api/auth/login", "", `{"email":"admin@example.com","password":"\u0000"}`, "password"},
		{"a login email of 3 KB", "POST", "/api/auth/login", "", `{"email":"` + strings.Repeat("a", 3000) + `@example.com","password":"correct horse battery"}`, "email"},
		{"a login password over 72 bytes", "POST", "/api/auth/login", "", `{"email":"admin@example.com","password":"` + long + `"}`, "password"},
		{"a new user's email of 3 KB", "POST", "/api/users", tok, `{"email":"` + strings.Repeat("a", 3000) + `@example.com","name":"Y","role":"agent","password":"long enough pw"}`, "email"},
		{"a new user's password over 72 bytes", "POST", "/api/users", tok, `{"email":"y@example.com","name":"Y","role":"agent","password":"` + long + `"}`, "password"},
		{"a user's password over 72 bytes", "PATCH", fmt.Sprintf("/api/users/%d", userID), tok, `{"password":"` + long + `"}`, "password"},
		{"NUL in a refresh token", "POST", "/api/auth/refresh", "", `{"refresh_token":"x\u0000"}`, "refresh_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp := in.Request(tc.method, tc.path, tc.token, body)
			require.Equal(t, http.StatusBadRequest, resp.Status, "%s", resp.Body)
			var e errorAnswer
			require.NoError(t, jsonUnmarshal(resp.Body, &e), "%s", resp.Body)
			require.Equal(t, "invalid_request", e.Error.Code, "%s", resp.Body)
			require.Equal(t, tc.field, e.Error.Field, "%s", resp.Body)
		})
	}

	// A 72-byte password is bcrypt's whole input and still logs in.
	in.Do("POST", "/api/users", tok, map[string]string{
		"email": "z@example.com", "name": "Z", "role": "agent", "password": strings.Repeat("p", 72),
	}, http.StatusCreated, nil)
	in.Do("POST", "/api/auth/login", "", map[string]string{"email": "z@example.com", "password": strings.Repeat("p", 72)}, http.StatusOK, nil)
}

// A login from a browser whose User-Agent is not UTF-8 still starts a session.
func TestLoginWithAnInvalidUserAgent(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.AdminToken()
	req, err := http.NewRequest("POST", in.URL+"/api/auth/login", strings.NewReader(`{"email":"admin@example.com","password":"correct horse battery"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla\xff\xfe")
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// A JSON body is one object and nothing more, and UTF-8: trailing data and raw bytes that are not
// UTF-8 (which encoding/json would replace with U+FFFD and send on) are refused as invalid_json.
func TestStrictJSONBodies(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, _ := startConversation(t, in, tok, "16505550144")
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)
	send := func(text string) string {
		return `{"client_id":"` + uuid.NewString() + `","type":"text","text":{"body":"` + text + `"}}`
	}
	for name, body := range map[string]string{
		"a bracket after the object": send("hi") + "]",
		"a word after the object":    send("hi") + " x",
		"a second object":            send("hi") + "{}",
		"invalid UTF-8 in a string":  send("caf\xe9"),
		"invalid UTF-8 outside":      send("hi") + "\xff",
	} {
		resp := in.Request("POST", path, tok, body)
		require.Equal(t, http.StatusBadRequest, resp.Status, "%s: %s", name, resp.Body)
		require.Equal(t, "invalid_json", errorCode(t, resp.Body), name)
	}
	require.Equal(t, 1, count(t, in, "messages"), "nothing was sent")
	// Whitespace after the object is still one object.
	in.Do("POST", path, tok, send("café")+" \r\n\t", http.StatusAccepted, nil)
}
