package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/inbox"
)

// maxBodyBytes bounds API request bodies; the largest legitimate one is a 4096-character message.
const maxBodyBytes = 1 << 20

// apiError is the body of every error answer: {"error":{"code","message"}}. Codes are stable
// identifiers clients switch on; messages are for people and never carry internal error text.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorJSON is the envelope of every error answer; T is *apiError, or lockedJSON for a lock
// conflict.
type errorJSON[T any] struct {
	Error T `json:"error"`
}

// lockedJSON is the error of a write to a conversation another agent holds the composer lock of:
// who holds it and until when, so the panel can show it.
// windowClosedJSON is a free-form send refused outside the customer-service window.
type windowClosedJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// WindowExpiredAt is when the window closed; null when the customer never wrote.
	WindowExpiredAt *time.Time `json:"window_expired_at"`
	Hint            string     `json:"hint"`
}

type lockedJSON struct {
	Code      string    `json:"code"`
	Message   string    `json:"message"`
	LockedBy  int64     `json:"locked_by"`
	ExpiresAt time.Time `json:"expires_at"`
}

func errBadRequest(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a valid access token is required (Authorization: Bearer <token>)"}
	errExpired      = &apiError{Status: http.StatusUnauthorized, Code: "token_expired", Message: "the access token has expired; log in again"}
	errForbidden    = &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "your role does not allow this"}
	errRevoked      = &apiError{Status: http.StatusUnauthorized, Code: "session_revoked", Message: "the session has ended (logged out, revoked or user disabled); log in again"}
	errUnavailable  = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the service is temporarily unavailable; retry shortly"}
)

// retryAfterSeconds is the Retry-After of an unavailable answer: long enough not to hammer a
// database that is coming back, short enough that an agent's send goes out soon after.
const retryAfterSeconds = "5"

// listJSON is the envelope of a list answered whole: {"data": [...]}. Data is never nil, so an
// empty list is [] rather than null.
type listJSON[T any] struct {
	Data []T `json:"data"`
}

// pageJSON is the envelope of a list answered a page at a time: NextCursor is the cursor of the
// next page, null on the last one. It is a type of its own rather than an optional field of
// listJSON because the lists answered whole have no next_cursor key at all.
type pageJSON[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err as JSON. Domain errors map to 4xx; an unreachable or frozen database
// (database.Unavailable) is an outage, logged as a warning and answered 503 with Retry-After;
// anything else is logged with the request id and answered 500 without its text.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ae *apiError
		le *inbox.LockedError
		fe *apperr.FieldError
		nf *apperr.NotFoundError
		fb *apperr.ForbiddenError
		cf *apperr.ConflictError
		tl *apperr.TooLargeError
		te *auth.ThrottledError
	)
	var wc *inbox.WindowClosedError
	switch {
	case errors.As(err, &wc):
		writeJSON(w, http.StatusConflict, errorJSON[windowClosedJSON]{Error: windowClosedJSON{
			Code: "window_closed", Message: wc.Error(), WindowExpiredAt: wc.ExpiredAt,
			Hint: `send an approved template instead: {"type":"template","template":{"name":…,"language":{"code":…},"components":[…]}} (GET /api/templates)`,
		}})
		return
	case errors.As(err, &le):
		writeJSON(w, http.StatusConflict, errorJSON[lockedJSON]{Error: lockedJSON{
			Code: "locked", Message: le.Error(), LockedBy: le.LockedBy, ExpiresAt: le.ExpiresAt.UTC(),
		}})
		return
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: fe.Error(), Field: fe.Field}
	case errors.As(err, &nf):
		ae = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: nf.Error()}
	case errors.As(err, &fb):
		ae = &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: fb.Reason}
	case errors.As(err, &cf):
		ae = &apiError{Status: http.StatusConflict, Code: "conflict", Message: cf.Reason}
	case errors.As(err, &tl):
		ae = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: tl.Error()}
	case errors.Is(err, auth.ErrRefreshTokenReused):
		ae = &apiError{Status: http.StatusUnauthorized, Code: "refresh_token_reused", Message: "this refresh token was already used; the session has been revoked, log in again"}
	case errors.Is(err, auth.ErrInvalidRefreshToken):
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_refresh_token", Message: "the refresh token is invalid, expired or revoked; log in again"}
	case errors.Is(err, auth.ErrInvalidCredentials):
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "invalid email or password"}
	case errors.As(err, &te):
		w.Header().Set("Retry-After", fmt.Sprint(te.RetryAfterSeconds()))
		ae = &apiError{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
			Message: fmt.Sprintf("too many failed logins; try again in %d seconds", te.RetryAfterSeconds())}
	case errors.Is(err, auth.ErrBusy):
		// Not the caller's fault: too many password checks (a burst of guesses) are under way.
		w.Header().Set("Retry-After", fmt.Sprint(int(auth.BusyRetryAfter.Seconds())))
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: "busy", Message: "too many logins are being checked; try again in a second"}
	case errors.Is(err, bcrypt.ErrPasswordTooLong):
		ae = errPasswordTooLong
	case database.InvalidText(err):
		// Input validation should have refused the value before it reached the database.
		logger(r).Warn("request refused by the database: a value it cannot store as text", "error", err)
		ae = errBadRequest("invalid_request", "a value holds characters that cannot be stored (NUL, or bytes that are not UTF-8)")
	case database.Unavailable(err):
		logger(r).Warn("request failed: database unreachable or request timed out", "error", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		ae = errUnavailable
	default:
		logger(r).Error("request failed", "error", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal_error",
			Message: "internal error; quote request id " + requestID(r.Context()) + " when reporting it"}
	}
	writeJSON(w, ae.Status, errorJSON[*apiError]{Error: ae})
}

// decodeJSON reads a JSON object body strictly: one object and nothing after it but whitespace,
// UTF-8 throughout, known fields only, bounded size, no NUL in any string (PostgreSQL cannot store
// it) and the limits of its request type (validateRequest). A typo in a field name is an error
// rather than a silently ignored value, and bytes encoding/json would quietly replace with U+FFFD
// are refused rather than sent to a customer altered.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send a JSON body with Content-Type: application/json"}
	}
	// ReadAll grows its buffer as bytes arrive, never from what Content-Length announces.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return bodyReadError(w, err)
	}
	return decodeBody(body, v)
}

// bodyReadError is the answer to a body that could not be read whole: too large (413), too slow
// to arrive (408, withBodyDeadline) or cut off by the caller (400).
func bodyReadError(w http.ResponseWriter, err error) error {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: fmt.Sprintf("the body exceeds %d bytes", maxBodyBytes)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The connection cannot serve another request: what is left of the body never came.
		w.Header().Set("Connection", "close")
		return &apiError{Status: http.StatusRequestTimeout, Code: "request_timeout", Message: "the body did not arrive in time"}
	default:
		return errBadRequest("invalid_request", "the body could not be read")
	}
}

// decodeBody is decodeJSON's decoding of a body read whole into v.
func decodeBody(body []byte, v any) error {
	if !utf8.Valid(body) {
		return errBadRequest("invalid_json", "the body is not valid UTF-8")
	}
	if field, ok := nulString(body); ok {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field,
			Message: field + ` must not contain the NUL character (\u0000)`}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var (
			syntaxErr *json.SyntaxError
			typeErr   *json.UnmarshalTypeError
		)
		switch {
		case errors.Is(err, io.EOF):
			return errBadRequest("invalid_json", "the body is empty; send a JSON object")
		case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
			return errBadRequest("invalid_json", "the body is not valid JSON")
		case errors.As(err, &typeErr) && typeErr.Type != nil:
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: typeErr.Field,
				Message: fmt.Sprintf("%s must be a %s", typeErr.Field, typeErr.Type.String())}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field, Message: fmt.Sprintf("unknown field %q", field)}
		default:
			return errBadRequest("invalid_json", "the body is not a valid JSON object")
		}
	}
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return errBadRequest("invalid_json", "the body must hold exactly one JSON object and nothing after it")
	}
	return validateRequest(v)
}

func logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
