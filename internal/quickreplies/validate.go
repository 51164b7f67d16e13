package quickreplies

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Limits of a quick reply.
const (
	// MaxShortcutLength bounds a shortcut, in characters.
	MaxShortcutLength = 32
	// MaxBodyLength is WhatsApp's limit for a text body, in characters.
	MaxBodyLength = 4096
)

// validateInput checks a new quick reply and returns its message encoded for storage.
func validateInput(in *Input) ([]byte, error) {
	switch in.Scope {
	case ScopePersonal, ScopeTeam:
		if in.GroupID != nil {
			return nil, &apperr.FieldError{Field: "group_id", Message: "is only for scope group"}
		}
	case ScopeGroup:
		if in.GroupID == nil {
			return nil, &apperr.FieldError{Field: "group_id", Message: "is required for scope group"}
		}
	default:
		return nil, &apperr.FieldError{Field: "scope", Message: fmt.Sprintf("%q must be personal, group or team", in.Scope)}
	}
	if err := validateShortcut(in.Shortcut); err != nil {
		return nil, err
	}
	if err := validateBody(in.Body); err != nil {
		return nil, err
	}
	msg, err := validateMessage(in.Message)
	if err != nil {
		return nil, err
	}
	return msg, requireContent(in.Body, msg != nil)
}

// validateShortcut: 1 to 32 letters, digits, hyphens and underscores, what an agent types after
// "/" in the composer.
func validateShortcut(s string) error {
	n := utf8.RuneCountInString(s)
	ok := n >= 1 && n <= MaxShortcutLength && utf8.ValidString(s)
	for _, r := range s {
		ok = ok && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_')
	}
	if !ok {
		return &apperr.FieldError{Field: "shortcut", Message: fmt.Sprintf("must be 1 to %d letters, digits, - or _ (no spaces)", MaxShortcutLength)}
	}
	return nil
}

func validateBody(body string) error {
	if !utf8.ValidString(body) || strings.IndexByte(body, 0) >= 0 {
		return &apperr.FieldError{Field: "body", Message: "must be UTF-8 without NUL characters"}
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyLength {
		return &apperr.FieldError{Field: "body", Message: fmt.Sprintf("is %d characters; WhatsApp allows at most %d", n, MaxBodyLength)}
	}
	return nil
}

// requireContent: a quick reply sends something.
func requireContent(body string, hasMessage bool) error {
	if !hasMessage && strings.TrimSpace(body) == "" {
		return &apperr.FieldError{Field: "body", Message: "is required when there is no message"}
	}
	return nil
}

// validateMessage checks a quick reply's message with waformat and returns it encoded for
// storage (nil for none). It is a template or an interactive message (a text one is the body);
// the recipient and the message replied to belong to the send. A template is checked for its shape
// only: the send path checks it against the stored templates, which may change in between.
func validateMessage(m *waformat.Message) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	switch {
	case m.Type != waformat.TypeTemplate && m.Type != waformat.TypeInteractive:
		return nil, &apperr.FieldError{Field: "message.type", Message: "must be template or interactive (a text quick reply is its body)"}
	case m.To != "":
		return nil, &apperr.FieldError{Field: "message.to", Message: "is the customer's, set when the quick reply is sent; leave it out"}
	case m.Context != nil:
		return nil, &apperr.FieldError{Field: "message.context", Message: "is set when the quick reply is sent; leave it out"}
	}
	if err := waformat.ValidateMessage(m); err != nil {
		var fes waformat.FieldErrors
		if !errors.As(err, &fes) || len(fes) == 0 {
			return nil, fmt.Errorf("error validating message: %w", err)
		}
		msg := fes[0].Message
		if len(fes) > 1 {
			msg += fmt.Sprintf(" (and %d more problems)", len(fes)-1)
		}
		return nil, &apperr.FieldError{Field: "message." + fes[0].Field, Message: msg}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("error encoding message: %w", err)
	}
	return b, nil
}

// validateFilter checks a search and returns its prefix as an escaped LIKE prefix.
func validateFilter(f *Filter) (string, error) {
	switch f.Scope {
	case "", ScopePersonal, ScopeGroup, ScopeTeam:
	default:
		return "", &apperr.FieldError{Field: "scope", Message: fmt.Sprintf("%q must be personal, group or team", f.Scope)}
	}
	prefix := strings.TrimPrefix(f.Prefix, "/")
	if !utf8.ValidString(prefix) || strings.IndexByte(prefix, 0) >= 0 || utf8.RuneCountInString(prefix) > MaxPrefixLength {
		return "", &apperr.FieldError{Field: "prefix", Message: fmt.Sprintf("must be at most %d characters of UTF-8", MaxPrefixLength)}
	}
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(prefix), nil
}
