package whatsapp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Class says what a sender should do after a failed Graph API call, so that
// the send worker decides retries from one place instead of scattered code checks.
type Class int

const (
	// ClassNone is the class of a nil error: there is nothing to handle.
	ClassNone Class = iota
	// ClassRetry marks transient failures: back off and try again.
	ClassRetry
	// ClassThrottle marks rate limits: pause (snooze) before trying again,
	// without counting it as a failed attempt.
	ClassThrottle
	// ClassPermanent marks failures that no retry can fix: fail the message at once.
	ClassPermanent
	// ClassStopNumber marks a broken number, account or token: fail the message and
	// alert a human, because every other send through that number will fail too.
	ClassStopNumber
)

// String returns the class name used in logs and metrics labels.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassRetry:
		return "retry"
	case ClassThrottle:
		return "throttle"
	case ClassPermanent:
		return "permanent"
	case ClassStopNumber:
		return "stop_number"
	default:
		return "Class(" + strconv.Itoa(int(c)) + ")"
	}
}

// ErrorInfo is one row of Meta's error-code reference: the code, what to do about
// it and Meta's short title, which is stored with a failed message for agents to read.
type ErrorInfo struct {
	Code  int
	Class Class
	Title string
}

// errorTable is the single list of Meta error codes wainbox knows, from Meta's
// WhatsApp Cloud API error-code reference. It is a map literal so that a code
// listed twice fails to compile. 132000–132016 are all template errors, including
// numbers the reference does not describe one by one.
var errorTable = map[int]ErrorInfo{
	1:      {Class: ClassRetry, Title: "API Unknown"},
	2:      {Class: ClassRetry, Title: "API Service"},
	4:      {Class: ClassRetry, Title: "API Too Many Calls"},
	80007:  {Class: ClassRetry, Title: "Rate limit issues"},
	131000: {Class: ClassRetry, Title: "Something went wrong"},
	131016: {Class: ClassRetry, Title: "Service unavailable"},
	131057: {Class: ClassRetry, Title: "Account in maintenance mode"},
	133004: {Class: ClassRetry, Title: "Server temporarily unavailable"},

	130429: {Class: ClassThrottle, Title: "Rate limit hit"},
	131056: {Class: ClassThrottle, Title: "(Business Account, Consumer Account) pair rate limit hit"},

	100:    {Class: ClassPermanent, Title: "Invalid parameter"},
	131008: {Class: ClassPermanent, Title: "Required parameter is missing"},
	131009: {Class: ClassPermanent, Title: "Parameter value is not valid"},
	131021: {Class: ClassPermanent, Title: "Recipient cannot be sender"},
	131026: {Class: ClassPermanent, Title: "Message undeliverable"},
	131047: {Class: ClassPermanent, Title: "Re-engagement message"},
	131049: {Class: ClassPermanent, Title: "Meta chose not to deliver"},
	131050: {Class: ClassPermanent, Title: "User stopped marketing messages"},
	131051: {Class: ClassPermanent, Title: "Unsupported message type"},
	131053: {Class: ClassPermanent, Title: "Media upload error"},
	132000: {Class: ClassPermanent, Title: "Template param count mismatch"},
	132001: {Class: ClassPermanent, Title: "Template does not exist"},
	132002: {Class: ClassPermanent, Title: "Template error"},
	132003: {Class: ClassPermanent, Title: "Template error"},
	132004: {Class: ClassPermanent, Title: "Template error"},
	132005: {Class: ClassPermanent, Title: "Template hydrated text too long"},
	132006: {Class: ClassPermanent, Title: "Template error"},
	132007: {Class: ClassPermanent, Title: "Template format character policy violated"},
	132008: {Class: ClassPermanent, Title: "Template error"},
	132009: {Class: ClassPermanent, Title: "Template error"},
	132010: {Class: ClassPermanent, Title: "Template error"},
	132011: {Class: ClassPermanent, Title: "Template error"},
	132012: {Class: ClassPermanent, Title: "Template parameter format mismatch"},
	132013: {Class: ClassPermanent, Title: "Template error"},
	132014: {Class: ClassPermanent, Title: "Template error"},
	132015: {Class: ClassPermanent, Title: "Template is paused"},
	132016: {Class: ClassPermanent, Title: "Template is disabled"},
	133010: {Class: ClassPermanent, Title: "Phone number not registered"},

	190:    {Class: ClassStopNumber, Title: "Access token has expired"},
	368:    {Class: ClassStopNumber, Title: "Temporarily blocked for policies violations"},
	131031: {Class: ClassStopNumber, Title: "Account has been locked"},
	131042: {Class: ClassStopNumber, Title: "Business eligibility payment issue"},
}

// LookupError returns Meta's row for an error code, and false for a code wainbox
// does not know, whose class then follows from the HTTP status.
func LookupError(code int) (ErrorInfo, bool) {
	info, ok := errorTable[code]
	if ok {
		info.Code = code
	}
	return info, ok
}

// ErrInvalidMessage is returned by Send before any HTTP call when the message
// cannot be valid; resending the same message would fail the same way.
var ErrInvalidMessage = errors.New("invalid outbound message")

// APIError is a non-2xx answer of the Graph API, decoded from Meta's error body.
// When the body is not Meta's shape, Code is 0 and Message holds a short snippet of it.
type APIError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string
	Details    string
	FBTraceID  string
}

// Error describes the failure with everything Meta returned that helps debugging.
// It never contains the access token: the client redacts it before building the error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph api error: http %d", e.HTTPStatus)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
		if info, ok := LookupError(e.Code); ok {
			fmt.Fprintf(&b, " (%s)", info.Title)
		}
	}
	if e.Type != "" {
		fmt.Fprintf(&b, ", %s", e.Type)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, " (details: %s)", e.Details)
	}
	if e.FBTraceID != "" {
		fmt.Fprintf(&b, " [fbtrace_id %s]", e.FBTraceID)
	}
	return b.String()
}

// Title returns Meta's short title for the error code, or the HTTP status text when
// the code is unknown, so that a failed message always carries a readable reason.
func (e *APIError) Title() string {
	if info, ok := LookupError(e.Code); ok {
		return info.Title
	}
	if e.Message != "" && e.Code != 0 {
		return e.Message
	}
	return http.StatusText(e.HTTPStatus)
}

// Class returns what to do about this error: a known Meta code decides first,
// then the HTTP status (5xx retry, 429 throttle, any other 4xx permanent).
func (e *APIError) Class() Class {
	if info, ok := LookupError(e.Code); ok {
		return info.Class
	}
	switch {
	case e.HTTPStatus == http.StatusTooManyRequests:
		return ClassThrottle
	case e.HTTPStatus >= 400 && e.HTTPStatus < 500:
		return ClassPermanent
	default:
		return ClassRetry
	}
}

// Classify maps any error of the Client to a Class. Errors that are not
// Graph API answers (connection refused, timeouts, deadlines, even a cancelled
// context during shutdown) are retried, because the message may still go out later.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	switch {
	case errors.Is(err, ErrInvalidMessage), errors.Is(err, ErrMediaTooLarge), errors.Is(err, ErrMediaNotFound):
		return ClassPermanent
	case errors.Is(err, ErrMediaURLExpired):
		return ClassRetry // from MediaInfo, which gives a fresh URL
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Class()
	}
	return ClassRetry
}

// MetricCode is err's Meta error code as a metrics label: a code of the error table, "other" for
// a Graph API error whose code the table does not list (a code is whatever Meta sends, so using
// it raw would let one misbehaving answer add series without bound), "network" for an error that
// is no Graph API answer (a timeout, a refused connection), and "none" for nil.
func MetricCode(err error) string {
	if err == nil {
		return "none"
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return "network"
	}
	if _, ok := errorTable[apiErr.Code]; ok {
		return strconv.Itoa(apiErr.Code)
	}
	return "other"
}
