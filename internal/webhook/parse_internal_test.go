package webhook

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzPlainBodiesNeedNoRepair checks normalize's fast path: a body that plain accepts must mean
// exactly what repair would make of it, so using it as it is changes nothing stored.
//
//	go test -run '^$' -fuzz FuzzPlainBodiesNeedNoRepair -fuzztime 60s ./internal/webhook/
func FuzzPlainBodiesNeedNoRepair(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, n := range names {
		b, err := os.ReadFile(n)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{
		`{"a":"\u0000"}`, `{"a":"\ud800"}`, `{"a":"\udc00"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud83dx"}`,
		`{"a":1e999}`, `{"a":1E5}`, `{"a":-0.5}`, `{"a":true,"b":false,"c":null}`, `{"a":"\\u0000"}`,
		`{"a":"\"\\\/\b\f\n\r\t"}`, `{"a":[` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `]}`,
		"{\"a\":\"\xff\"}", `[1]`, ` {"a":1} `, `{"a":1}{}`, `{"a":"é","a":"e"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !plain(body) || !json.Valid(body) {
			return
		}
		repaired, err := repair(body)
		require.NoError(t, err, "repair refuses a body plain accepts")
		require.Equal(t, decodeAll(t, repaired), decodeAll(t, body))
	})
}

func decodeAll(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

func TestPlain(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	for body, want := range map[string]bool{
		`{"a":"Hola, \u00bfmi pedido ya sali\u00f3?"}`: true,
		`{"a":"\ud83d\ude00"}`:                         true,
		`{"a":[1,-2.5,true,false,null]}`:               true,
		deep(maxDepth):                                 true,
		deep(maxDepth + 1):                             false,
		`{"a":"\u0000"}`:                               false,
		`{"a":"\ud800"}`:                               false,
		`{"a":"\udc00\ud800"}`:                         false,
		`{"a":1e3}`:                                    false,
		"{\"a\":\"\xff\"}":                             false,
		`["a"]`:                                        false,
	} {
		require.Equal(t, want, plain([]byte(body)), body)
	}
}
