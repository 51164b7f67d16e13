package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

// ObjectWhatsApp is the only webhook object wainbox accepts.
const ObjectWhatsApp = "whatsapp_business_account"

// Subscribed fields wainbox handles.
const (
	// FieldMessages carries messages, statuses and their errors.
	FieldMessages = "messages"
	// FieldTemplateStatus carries Meta's verdicts on message templates and later changes of their
	// status (paused, disabled, reinstated).
	FieldTemplateStatus = "message_template_status_update"
)

// Kinds of Problem, stored in webhook_errors.kind (migrations/00002_webhooks.sql describes them).
const (
	ProblemUnparsable     = "unparsable"
	ProblemInvalid        = "invalid"
	ProblemUnknownNumber  = "unknown_number"
	ProblemUnhandledField = "unhandled_field"
	ProblemValueError     = "value_error"
	ProblemUnknownStatus  = "unknown_status"
	ProblemEmpty          = "empty"
)

// maxDepth bounds the nesting Parse keeps. Meta's payloads nest about eight levels; PostgreSQL's
// jsonb parser and Go's decoder both have limits of their own, which a deeper subtree would hit
// while storing a message payload and fail its whole batch.
const maxDepth = 64

// Batch is what one webhook body holds, element by element. Parse decodes every entry, change,
// message, status and error on its own, so one element it cannot read becomes a Problem instead of
// costing the others.
type Batch struct {
	Changes          []Change
	TemplateStatuses []TemplateStatus
	Problems         []Problem
}

// TemplateStatus is one message_template_status_update change.
type TemplateStatus struct {
	// MetaID is the template's id (a number in Meta's payload, kept as text).
	MetaID   json.Number `json:"message_template_id"`
	Name     string      `json:"message_template_name"`
	Language string      `json:"message_template_language"`
	Event    string      `json:"event"`
	Reason   string      `json:"reason"`
}

// Change is one "messages" change: what happened on one business phone number.
type Change struct {
	PhoneNumberID      string
	DisplayPhoneNumber string
	Contacts           []whatsapp.Contact
	Messages           []Message
	Statuses           []Status
	Errors             []whatsapp.Error
}

// Message is one inbound message with the JSON object it was decoded from.
type Message struct {
	whatsapp.InboundMessage
	Raw json.RawMessage
}

// Status is one status with the JSON object it was decoded from.
type Status struct {
	whatsapp.Status
	Raw json.RawMessage
}

// Problem is something in a webhook that wainbox records instead of applying. Raw is the element
// concerned, when it is JSON.
type Problem struct {
	Kind          string
	PhoneNumberID string
	Code          int
	Title         string
	Details       string
	Raw           json.RawMessage
}

// Parse reads a webhook body. It never fails: what it cannot read is reported in Problems, and a
// body with nothing in it at all is a Problem too, so every payload leaves a trace. The JSON of
// every element is normalized first (valid UTF-8, no NUL, numbers PostgreSQL can hold, bounded
// depth) so that what Parse returns can be stored as it is.
func Parse(body []byte) *Batch {
	b := &Batch{}
	clean, err := normalize(body)
	if err != nil {
		b.problem(ProblemUnparsable, "", "the body is not a JSON object", err.Error(), nil)
		return b
	}
	var n struct {
		Object string            `json:"object"`
		Entry  []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(clean, &n); err != nil {
		b.problem(ProblemUnparsable, "", "the body is not a webhook notification", err.Error(), clean)
		return b
	}
	if n.Object != ObjectWhatsApp {
		b.problem(ProblemUnparsable, "", "the object is not "+ObjectWhatsApp, fmt.Sprintf("object %q", n.Object), clean)
		return b
	}
	for _, rawEntry := range n.Entry {
		var e struct {
			Changes []json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(rawEntry, &e); err != nil {
			b.problem(ProblemUnparsable, "", "an entry is not readable", err.Error(), rawEntry)
			continue
		}
		for _, rawChange := range e.Changes {
			b.parseChange(rawChange)
		}
	}
	if len(b.Problems) == 0 && b.elements() == 0 {
		b.problem(ProblemEmpty, "", "the webhook holds no messages, statuses or errors", "", clean)
	}
	return b
}

func (b *Batch) parseChange(raw json.RawMessage) {
	var c struct {
		Field string          `json:"field"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		b.problem(ProblemUnparsable, "", "a change is not readable", err.Error(), raw)
		return
	}
	if c.Field == FieldTemplateStatus {
		var ts TemplateStatus
		if err := json.Unmarshal(c.Value, &ts); err != nil || ts.MetaID == "" || ts.Event == "" {
			details := "message_template_id and event are required"
			if err != nil {
				details = err.Error()
			}
			b.problem(ProblemUnparsable, "", "a template status change is not readable", details, raw)
			return
		}
		b.TemplateStatuses = append(b.TemplateStatuses, ts)
		return
	}
	if c.Field != FieldMessages {
		b.problem(ProblemUnhandledField, "", "a change of field "+strconv.Quote(c.Field)+" is not handled", "", raw)
		return
	}
	var v struct {
		Metadata whatsapp.Metadata `json:"metadata"`
		Contacts []json.RawMessage `json:"contacts"`
		Messages []json.RawMessage `json:"messages"`
		Statuses []json.RawMessage `json:"statuses"`
		Errors   []json.RawMessage `json:"errors"`
	}
	if len(c.Value) == 0 || string(c.Value) == "null" {
		b.problem(ProblemUnparsable, "", "a change has no value", "", raw)
		return
	}
	if err := json.Unmarshal(c.Value, &v); err != nil {
		b.problem(ProblemUnparsable, "", "a change's value is not readable", err.Error(), raw)
		return
	}
	pn := v.Metadata.PhoneNumberID
	ch := Change{PhoneNumberID: pn, DisplayPhoneNumber: v.Metadata.DisplayPhoneNumber}
	for _, r := range v.Contacts {
		var ct whatsapp.Contact
		if err := json.Unmarshal(r, &ct); err != nil {
			b.problem(ProblemUnparsable, pn, "a contact is not readable", err.Error(), r)
			continue
		}
		ch.Contacts = append(ch.Contacts, ct)
	}
	for _, r := range v.Messages {
		m := Message{Raw: r}
		if err := json.Unmarshal(r, &m.InboundMessage); err != nil {
			b.problem(ProblemUnparsable, pn, "a message is not readable", err.Error(), r)
			continue
		}
		ch.Messages = append(ch.Messages, m)
	}
	for _, r := range v.Statuses {
		s := Status{Raw: r}
		if err := json.Unmarshal(r, &s.Status); err != nil {
			b.problem(ProblemUnparsable, pn, "a status is not readable", err.Error(), r)
			continue
		}
		ch.Statuses = append(ch.Statuses, s)
	}
	for _, r := range v.Errors {
		var e whatsapp.Error
		if err := json.Unmarshal(r, &e); err != nil {
			b.problem(ProblemUnparsable, pn, "an error is not readable", err.Error(), r)
			continue
		}
		ch.Errors = append(ch.Errors, e)
	}
	if len(ch.Messages)+len(ch.Statuses)+len(ch.Errors) > 0 {
		b.Changes = append(b.Changes, ch)
	}
}

func (b *Batch) elements() int {
	n := len(b.TemplateStatuses)
	for i := range b.Changes {
		c := &b.Changes[i]
		n += len(c.Messages) + len(c.Statuses) + len(c.Errors)
	}
	return n
}

// maxDetails bounds the error text a Problem keeps.
const maxDetails = 500

func (b *Batch) problem(kind, phoneNumberID, title, details string, raw json.RawMessage) {
	if len(details) > maxDetails {
		details = strings.ToValidUTF8(details[:maxDetails], "") + "…"
	}
	b.Problems = append(b.Problems, Problem{Kind: kind, PhoneNumberID: phoneNumberID, Title: title, Details: details, Raw: raw})
}

// normalize re-encodes a JSON object so that PostgreSQL stores any part of it: strings become
// valid UTF-8 without NUL (Go's decoder already replaces invalid bytes and lone surrogates),
// numbers beyond float64 become strings, and subtrees deeper than maxDepth are cut. Meta's own
// payloads come out with the same content.
func normalize(body []byte) ([]byte, error) {
	// Nearly every webhook needs none of the repairs, and decoding it into a tree and encoding it
	// again was a tenth of the processing's CPU: such a body is used as it is.
	if plain(body) && json.Valid(body) {
		return body, nil
	}
	return repair(body)
}

// repair decodes body into a tree, cleans it (cleanValue) and encodes it again.
func repair(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return nil, errors.New("data after the JSON object")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("the JSON value is not an object")
	}
	out, err := json.Marshal(cleanValue(v, 0))
	if err != nil {
		return nil, fmt.Errorf("error re-encoding the body: %w", err)
	}
	return out, nil
}

func cleanValue(v any, depth int) any {
	switch x := v.(type) {
	case string:
		return cleanString(x)
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return string(x)
		}
		return x
	case map[string]any:
		if depth >= maxDepth {
			return "(nested too deep)"
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[cleanString(k)] = cleanValue(e, depth+1)
		}
		return out
	case []any:
		if depth >= maxDepth {
			return "(nested too deep)"
		}
		for i, e := range x {
			x[i] = cleanValue(e, depth+1)
		}
		return x
	}
	return v
}

func cleanString(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// plain reports whether body, if it is valid JSON, is an object that repair would leave
// semantically unchanged: valid UTF-8, no \u0000 and no lone surrogate escape (PostgreSQL's
// jsonb refuses both), no number with an exponent or of more than 300 characters (the only ones
// that might not fit a float64), and nesting no deeper than maxDepth. It is conservative: a body
// it refuses goes through repair, which is correct for every body, only slower. It does not check
// the syntax; the caller does.
func plain(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	depth, number := 0, 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"':
			number = 0
			end, ok := plainString(body, i+1)
			if !ok {
				return false
			}
			i = end
		case c == '{' || c == '[':
			number = 0
			if depth++; depth > maxDepth {
				return false
			}
		case c == '}' || c == ']':
			number = 0
			depth--
		case c == '-' || c == '.' || (c >= '0' && c <= '9'):
			if number++; number > 300 {
				return false
			}
		case (c == 'e' || c == 'E') && number > 0:
			return false
		default:
			number = 0
		}
	}
	return true
}

// plainString scans the string whose content starts at body[i] and returns the index of its
// closing quote; ok is false if it holds an escape that repair would change.
func plainString(body []byte, i int) (end int, ok bool) {
	for ; i < len(body); i++ {
		switch body[i] {
		case '"':
			return i, true
		case '\\':
			if i+1 >= len(body) {
				return 0, false
			}
			i++
			if body[i] != 'u' {
				continue
			}
			r, good := hex4(body, i+1)
			if !good || r == 0 || (r >= 0xDC00 && r <= 0xDFFF) {
				return 0, false
			}
			i += 4
			if r >= 0xD800 && r <= 0xDBFF {
				// A high surrogate must be followed by a low one.
				if i+2 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
					return 0, false
				}
				lo, good := hex4(body, i+3)
				if !good || lo < 0xDC00 || lo > 0xDFFF {
					return 0, false
				}
				i += 6
			}
		}
	}
	return 0, false
}

// hex4 reads the four hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
