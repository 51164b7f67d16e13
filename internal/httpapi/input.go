package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/auth"
)

// Input checks at the edge: what PostgreSQL cannot store as text (NUL, bytes that are not UTF-8)
// and values past a hard limit are refused with 400 naming the field before any handler passes
// them on, so bad input never surfaces as a database error and a 500.

const (
	// maxEmailBytes is the longest address SMTP can deliver to (RFC 5321's path limit).
	maxEmailBytes = 254
	// maxUserAgentBytes is how much of a User-Agent a session keeps.
	maxUserAgentBytes = 512
)

// errPasswordTooLong refuses a password bcrypt would check only in part.
var errPasswordTooLong = &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "password",
	Message: fmt.Sprintf("password must be at most %d bytes (bcrypt's limit)", auth.MaxPasswordLength)}

// validateRequest applies the limits of a decoded request body that its JSON types cannot say. A
// new password's length is the domain's rule (auth); a login's password is checked here, since
// bcrypt would compare only its first bytes and let a longer one pass.
func validateRequest(v any) error {
	switch req := v.(type) {
	case *loginRequest:
		if err := checkEmail(req.Email); err != nil {
			return err
		}
		if len(req.Password) > auth.MaxPasswordLength {
			return errPasswordTooLong
		}
	case *createUserRequest:
		return checkEmail(req.Email)
	}
	return nil
}

// checkEmail refuses an address longer than any that can be delivered to, and than the unique
// index on users' emails can hold.
func checkEmail(email string) error {
	if len(email) > maxEmailBytes {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "email",
			Message: fmt.Sprintf("email must be at most %d bytes", maxEmailBytes)}
	}
	return nil
}

// nulString finds the first string of a JSON document, key or value, that holds a NUL, and
// returns where it is as a field path ("text.body"; array elements are named by their array).
// A body that is not JSON has none: the decoder says what is wrong with it.
func nulString(body []byte) (string, bool) {
	// A NUL can only be written \u0000 in JSON; most bodies need no walk.
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return "", false
	}
	type frame struct {
		object    bool
		key       string
		expectKey bool
	}
	var stack []frame
	path := func(last string) string {
		var keys []string
		for _, f := range stack {
			if f.object && f.key != "" {
				keys = append(keys, f.key)
			}
		}
		if last != "" {
			keys = append(keys, last)
		}
		return strings.Join(keys, ".")
	}
	// valueDone notes that the innermost object's current value has begun: its next string is a key.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				valueDone()
				stack = append(stack, frame{object: t == '{', expectKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				stack[n-1].expectKey = false
				if strings.IndexByte(t, 0) >= 0 {
					return path(t), true
				}
				stack[n-1].key = t
				continue
			}
			if strings.IndexByte(t, 0) >= 0 {
				return path(""), true
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// badText reports whether s cannot be stored as PostgreSQL text.
func badText(s string) bool {
	return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
}

// withCleanInput refuses a request whose path or query holds what PostgreSQL cannot store as text
// (400 naming the query parameter, or "path"), and trims a User-Agent to valid UTF-8 of a bounded
// length, since a session records it and a browser's odd header must not fail a login.
func withCleanInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if badText(r.URL.Path) {
			writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "path",
				Message: "the path must be UTF-8 without NUL characters"})
			return
		}
		if r.URL.RawQuery != "" {
			for name, values := range r.URL.Query() {
				bad := badText(name)
				for _, v := range values {
					bad = bad || badText(v)
				}
				if bad {
					field := strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", ""), "")
					writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field,
						Message: fmt.Sprintf("query parameter %q must be UTF-8 without NUL characters", field)})
					return
				}
			}
		}
		if ua := r.Header.Get("User-Agent"); len(ua) > maxUserAgentBytes || badText(ua) {
			ua = ua[:min(len(ua), maxUserAgentBytes)]
			r.Header.Set("User-Agent", strings.ToValidUTF8(strings.ReplaceAll(ua, "\x00", ""), "\uFFFD"))
		}
		next.ServeHTTP(w, r)
	})
}
