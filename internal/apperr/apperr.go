// Package apperr holds the errors the domain packages (auth, inbox) answer with when a request
// cannot be done as asked: input refused, something that does not exist (or that the caller may
// not see, which is answered the same), a refusal, a conflict with the current state. Each
// carries what an answer needs as fields, so the API maps them to its answers by type
// (errors.As), never by reading or trimming error text. It imports nothing of the project.
package apperr

import (
	"fmt"
	"strconv"
)

// FieldError is input refused, named by the field that is wrong: Field "text.body", Message
// "must not be empty".
type FieldError struct {
	Field   string
	Message string
}

// Error reads as a sentence about the field: "text.body must not be empty".
func (e *FieldError) Error() string { return e.Field + " " + e.Message }

// NotFoundError is something that does not exist, or that the caller may not see: both are
// answered the same, so an id reveals nothing.
type NotFoundError struct {
	// What was looked for: "conversation", "message", "user", "group".
	What string
	// ID is the identifier asked for, as the caller gave it.
	ID string
	// By names the identifier when it is not What's id ("wa_id"); empty for the id.
	By string
}

// NotFound is the NotFoundError of what's id.
func NotFound(what string, id int64) *NotFoundError {
	return &NotFoundError{What: what, ID: strconv.FormatInt(id, 10)}
}

// Error reads "conversation 42 does not exist", or "conversation with wa_id 16505551234 does not
// exist" when By is set.
func (e *NotFoundError) Error() string {
	if e.By != "" {
		return e.What + " with " + e.By + " " + e.ID + " does not exist"
	}
	return e.What + " " + e.ID + " does not exist"
}

// ForbiddenError is a refusal: the caller may see what they asked about but not do this to it.
// Reason says what is refused, for people ("you may not act on conversation 42").
type ForbiddenError struct {
	Reason string
}

// Forbidden is a ForbiddenError whose reason is formatted as by fmt.Sprintf.
func Forbidden(format string, args ...any) *ForbiddenError {
	return &ForbiddenError{Reason: fmt.Sprintf(format, args...)}
}

func (e *ForbiddenError) Error() string { return e.Reason }

// ConflictError is a request that contradicts the current state (retrying a message that is not
// failed, a name already taken). Reason says what is in the way, for people.
type ConflictError struct {
	Reason string
}

// Conflict is a ConflictError whose reason is formatted as by fmt.Sprintf.
func Conflict(format string, args ...any) *ConflictError {
	return &ConflictError{Reason: fmt.Sprintf(format, args...)}
}

func (e *ConflictError) Error() string { return e.Reason }

// TooLargeError refuses input larger than its limit (a file over Meta's size for its kind).
type TooLargeError struct {
	// What is too large: "image", "document".
	What  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the %s is larger than the %d bytes WhatsApp accepts", e.What, e.Limit)
}
