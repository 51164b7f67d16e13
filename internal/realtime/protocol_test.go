package realtime

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzParseClientMessage feeds the parser of client messages arbitrary bytes, as a client can
// send them. Whatever the input, it must not panic, and it either parses into a message of a known
// type with valid fields, which encodes back to itself, or yields a *protocolError whose reason
// fits a close frame (123 bytes of UTF-8).
//
//	go test -run '^$' -fuzz FuzzParseClientMessage -fuzztime 60s ./internal/realtime/
func FuzzParseClientMessage(f *testing.F) {
	for _, seed := range []string{
		`{"type":"auth","token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}`,
		`{"type":"auth"}`,
		`{"type":"resume","after":0}`,
		`{"type":"resume","after":null}`,
		`{"type":"resume"}`,
		`{"type":"resume","after":9223372036854775807}`,
		`{"type":"resume","after":9223372036854775808}`,
		`{"type":"resume","after":-1}`,
		`{"type":"resume","after":1.5}`,
		`{"type":"resume","after":"12"}`,
		`{"type":"ping"}`,
		`{"TYPE":"PING"}`,
		`{"type":"ping","type":"subscribe"}`,
		`{"type":"subscribe"}`,
		`{"type":null}`,
		`{"type":1}`,
		`{"type":"auth","token":["x"]}`,
		`{"type":"auth","token":"\ud800"}`,
		`{"type":"auth"} {"type":"ping"}`,
		`{}`, `null`, `[]`, `"auth"`, `0`, ``, ` `, `{`, `}`,
		strings.Repeat(`[`, 10000),
		strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000),
		"{\"type\":\"ping\"}\x00",
		"\xff\xfe{\"type\":\"ping\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseClientMessage(data)
		if err != nil {
			var pe *protocolError
			require.True(t, errors.As(err, &pe), "not a protocol error: %v", err)
			require.NotEmpty(t, pe.reason)
			require.LessOrEqual(t, len(pe.reason), 123, "the reason must fit a close frame")
			require.True(t, utf8.ValidString(pe.reason))
			require.Equal(t, clientMessage{}, m)
			return
		}
		require.Contains(t, []string{typeAuth, typeResume, typePing}, m.Type)
		if m.Type == typeResume && m.After != nil {
			require.GreaterOrEqual(t, *m.After, int64(0))
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		again, err := parseClientMessage(b)
		require.NoError(t, err, "a parsed message encodes to one that parses: %s", b)
		require.Equal(t, m, again)
	})
}

// TestParseClientMessage pins what the parser accepts and why it refuses the rest.
func TestParseClientMessage(t *testing.T) {
	t.Parallel()
	zero := int64(0)
	tests := []struct {
		in     string
		want   clientMessage
		reason string
	}{
		{`{"type":"auth","token":"t"}`, clientMessage{Type: "auth", Token: "t"}, ""},
		{`{"type":"resume","after":0}`, clientMessage{Type: "resume", After: &zero}, ""},
		{`{"type":"resume","after":null}`, clientMessage{Type: "resume"}, ""},
		{`{"type":"ping"}`, clientMessage{Type: "ping"}, ""},
		{`{"type":"resume","after":-1}`, clientMessage{}, "after must be an event id"},
		{`{"type":"resume","after":1.5}`, clientMessage{}, "message is not a JSON object of the protocol"},
		{`{"type":"subscribe"}`, clientMessage{}, "unknown message type"},
		{`null`, clientMessage{}, "unknown message type"},
		{`[]`, clientMessage{}, "message is not a JSON object of the protocol"},
		{`hello`, clientMessage{}, "message is not a JSON object of the protocol"},
		{`{"type":"ping"} {"type":"ping"}`, clientMessage{}, "message is not a JSON object of the protocol"},
	}
	for _, tt := range tests {
		m, err := parseClientMessage([]byte(tt.in))
		if tt.reason == "" {
			require.NoError(t, err, tt.in)
		} else {
			require.EqualError(t, err, tt.reason, tt.in)
		}
		require.Equal(t, tt.want, m, tt.in)
	}
}
