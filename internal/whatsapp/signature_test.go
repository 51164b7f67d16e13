package whatsapp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

func TestSign(t *testing.T) {
	t.Parallel()

	// Reference value: printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac 'secret'
	require.Equal(t, "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494",
		whatsapp.Sign([]byte("secret"), []byte(`{"a":1}`)))
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()

	secret := []byte("app-secret")
	// Meta escapes non-ASCII text as \uXXXX and signs those exact bytes.
	raw := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":` +
		`{"messages":[{"from":"1","id":"wamid.A","timestamp":"1","type":"text","text":{"body":"\u00bfC\u00f3mo est\u00e1s?"}}]}}]}]}`)
	valid := whatsapp.Sign(secret, raw)

	// Decoding and encoding again yields "¿Cómo estás?" in UTF-8: different bytes.
	var n whatsapp.Notification
	require.NoError(t, json.Unmarshal(raw, &n))
	require.Equal(t, "¿Cómo estás?", n.Entry[0].Changes[0].Value.Messages[0].Body())
	reencoded, err := json.Marshal(&n)
	require.NoError(t, err)

	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"raw escaped bytes", secret, raw, valid, true},
		{"re-serialised JSON", secret, reencoded, valid, false},
		{"wrong secret", []byte("other"), raw, valid, false},
		{"body changed", secret, append([]byte(" "), raw...), valid, false},
		{"missing header", secret, raw, "", false},
		{"missing prefix", secret, raw, strings.TrimPrefix(valid, "sha256="), false},
		{"sha1 prefix", secret, raw, "sha1=" + strings.TrimPrefix(valid, "sha256="), false},
		{"not hex", secret, raw, "sha256=" + strings.Repeat("zz", 32), false},
		{"truncated", secret, raw, valid[:len(valid)-2], false},
		{"upper-case hex", secret, raw, "sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256=")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, whatsapp.VerifySignature(tt.secret, tt.body, tt.header))
		})
	}
}
