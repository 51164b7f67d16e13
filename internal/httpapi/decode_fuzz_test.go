package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/auth"
)

// FuzzDecodeJSON feeds the request decoding arbitrary bodies for each kind of request struct.
// Whatever the body, it either decodes, leaving no string that is not UTF-8 or holds a NUL, or is
// refused with a 4xx apiError; never a panic, and never an error that would answer 5xx.
//
//	go test -run '^$' -fuzz FuzzDecodeJSON -fuzztime 60s ./internal/httpapi/
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"client_id":"6f1c2b9e-2f4a-4c1e-9a43-0c8c2b1e7d11","type":"text","text":{"body":"Hello"}}`,
		`{"wa_id":"16505551234","client_id":"x","type":"text","text":{"body":"a\u0000b"}}`,
		`{"email":"a@example.com","password":"correct horse battery"}`,
		`{"email":"a@example.com\u0000","password":"x"}`,
		`{"name":"X","role":"agent","password":null,"group_ids":[1,2],"max_conversations":3}`,
		`{"tag":"vip"}{}`,
		`{"body":"note"} x`,
		`{"body":"caf` + "\xe9" + `"}`,
		`{"text":{"body":1e999}}`,
		`{"a\u0000":1}`,
		`{"text":{"body":"\ud800"}}`,
		`[`, ``, ` `, `null`, `"x"`, `{"status":"open","snoozed_until":"2030-01-01T00:00:00Z"}`,
		`{"agent_id":null,"group_id":7}`,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return new(messageRequest) },
		func() any { return new(startConversationRequest) },
		func() any { return new(loginRequest) },
		func() any { return new(createUserRequest) },
		func() any { return new(auth.UserPatch) },
		func() any { return new(auth.GroupInput) },
		func() any {
			return new(struct {
				Tag  string `json:"tag"`
				Body string `json:"body"`
			})
		},
		func() any {
			return new(struct {
				AgentID auth.Optional[int64] `json:"agent_id"`
				GroupID auth.Optional[int64] `json:"group_id"`
			})
		},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			v := target()
			r := httptest.NewRequest(http.MethodPost, "/api/x", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			err := decodeJSON(httptest.NewRecorder(), r, v)
			if err == nil {
				requireCleanStrings(t, reflect.ValueOf(v))
				continue
			}
			var ae *apiError
			require.True(t, errors.As(err, &ae), "%T %v is not an apiError", err, err)
			require.GreaterOrEqual(t, ae.Status, 400, "%v", ae)
			require.Less(t, ae.Status, 500, "%v", ae)
			require.True(t, utf8.ValidString(ae.Field), "field %q", ae.Field)
		}
	})
}

// requireCleanStrings checks every string reachable from v: UTF-8 without NUL.
func requireCleanStrings(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		require.True(t, utf8.ValidString(v.String()), "%q", v.String())
		require.False(t, strings.ContainsRune(v.String(), 0), "%q", v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			requireCleanStrings(t, v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			requireCleanStrings(t, v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			requireCleanStrings(t, v.Index(i))
		}
	}
}

func TestNulStringNamesTheField(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"text":{"body":"a\u0000"}}`:                   "text.body",
		`{"type":"text","text":{"body":"\u0000"}}`:      "text.body",
		`{"a":{"b":1},"c":"\u0000"}`:                    "c",
		`{"a":[{"x":"y"},"\u0000"]}`:                    "a",
		`{"a":[1,{"b":"\u0000"}]}`:                      "a.b",
		`{"k\u0000":1}`:                                 "k\x00",
		`"\u0000"`:                                      "",
		`{"a":{"b":{}},"c":[[]],"d":null,"e":"\u0000"}`: "e",
	} {
		got, ok := nulString([]byte(body))
		require.True(t, ok, body)
		require.Equal(t, want, got, body)
	}
	for _, body := range []string{`{"a":"\\u0000"}`, `{"a":"b"}`, `{"a":"\u0000`, `{"a":1e999,"b":"x"}`} {
		_, ok := nulString([]byte(body))
		require.False(t, ok, body)
	}
}
