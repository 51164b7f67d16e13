package waformat

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Reason classifies a FieldError so that a caller can map it onto its own codes
// (the simulator onto Meta's error codes, the API onto its error kinds) without
// reading messages.
type Reason string

// Reasons, with the Meta error code each corresponds to.
const (
	// ReasonInvalid: a value is missing, malformed or not allowed (100, 131008, 131009).
	ReasonInvalid Reason = "invalid"
	// ReasonTooLong: a text is over Meta's limit (131009).
	ReasonTooLong Reason = "too_long"
	// ReasonTemplateNotFound: no template of that name (132001).
	ReasonTemplateNotFound Reason = "template_not_found"
	// ReasonTemplateLanguage: the template has no translation in the language
	// asked for (132001).
	ReasonTemplateLanguage Reason = "template_language"
	// ReasonTemplateNotApproved: the template is pending, rejected or otherwise not
	// approved (132001: Meta reports it as a template that does not exist).
	ReasonTemplateNotApproved Reason = "template_not_approved"
	// ReasonTemplatePaused: the template is paused for low quality (132015).
	ReasonTemplatePaused Reason = "template_paused"
	// ReasonTemplateDisabled: the template is disabled for low quality (132016).
	ReasonTemplateDisabled Reason = "template_disabled"
	// ReasonParameterCount: a component has more or fewer parameters than the
	// template's placeholders, or a component that needs parameters is missing (132000).
	ReasonParameterCount Reason = "parameter_count"
	// ReasonParameterFormat: a parameter does not fit its placeholder: wrong type,
	// a name where the template is positional or the other way round, an unknown
	// name, a button that is not there (132012).
	ReasonParameterFormat Reason = "parameter_format"
	// ReasonParameterText: a text parameter has a newline, a tab or more than
	// four consecutive spaces (132018).
	ReasonParameterText Reason = "parameter_text"
)

// FieldError is one problem of a request: Field is the JSON path of the value in
// Meta's request shape (for example template.components[1].parameters[0].text)
// and Message says what is wrong and what is allowed, for an API client to act on.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Reason  Reason `json:"reason"`
}

func (e FieldError) Error() string {
	return e.Field + ": " + e.Message
}

// FieldErrors are the problems of one request, in the order of its fields. Every
// validating function of this package returns either nil or a FieldErrors.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	switch len(es) {
	case 0:
		return "no field errors"
	case 1:
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more)", es[0].Error(), len(es)-1)
}

// checker collects field errors.
type checker struct {
	errs FieldErrors
}

func (c *checker) add(field string, reason Reason, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...), Reason: reason})
}

func (c *checker) failed() bool { return len(c.errs) > 0 }

// err returns nil, not a nil FieldErrors, when nothing was found.
func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// text checks a string field: required (non-blank) when required is set, and at
// most max characters when max > 0. It reports whether the value is usable.
func (c *checker) text(field, s string, required bool, max int) bool {
	if strings.TrimSpace(s) == "" {
		if required {
			c.add(field, ReasonInvalid, "is required and must not be blank")
			return false
		}
		if s != "" {
			c.add(field, ReasonInvalid, "must not be blank when given")
			return false
		}
		return true
	}
	if n := utf8.RuneCountInString(s); max > 0 && n > max {
		c.add(field, ReasonTooLong, "is %d characters long; the limit is %d", n, max)
		return false
	}
	return true
}

func at(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
