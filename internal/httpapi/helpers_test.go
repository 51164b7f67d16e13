package httpapi_test

import (
	"encoding/json"
	"io"
)

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
