package waformat

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Status is a template's review status.
type Status string

// Template statuses. Meta has a few more (IN_APPEAL, PENDING_DELETION, DELETED,
// LIMIT_EXCEEDED, ARCHIVED); none of them can be sent, like PENDING and REJECTED.
const (
	StatusApproved Status = "APPROVED"
	StatusPending  Status = "PENDING"
	StatusRejected Status = "REJECTED"
	StatusPaused   Status = "PAUSED"
	StatusDisabled Status = "DISABLED"
)

// Category is a template's category, which decides its price.
type Category string

// Template categories.
const (
	CategoryMarketing      Category = "MARKETING"
	CategoryUtility        Category = "UTILITY"
	CategoryAuthentication Category = "AUTHENTICATION"
)

// ParameterFormat says how a template's placeholders are written: {{1}} or {{name}}.
type ParameterFormat string

// Parameter formats; a template without one is POSITIONAL.
const (
	ParameterFormatPositional ParameterFormat = "POSITIONAL"
	ParameterFormatNamed      ParameterFormat = "NAMED"
)

// ComponentType is the type of a template component.
type ComponentType string

// Template components; a template has exactly one body and at most one of each other.
const (
	ComponentHeader  ComponentType = "HEADER"
	ComponentBody    ComponentType = "BODY"
	ComponentFooter  ComponentType = "FOOTER"
	ComponentButtons ComponentType = "BUTTONS"
)

// HeaderFormat is the format of a template's header.
type HeaderFormat string

// Header formats.
const (
	FormatText     HeaderFormat = "TEXT"
	FormatImage    HeaderFormat = "IMAGE"
	FormatVideo    HeaderFormat = "VIDEO"
	FormatDocument HeaderFormat = "DOCUMENT"
	FormatLocation HeaderFormat = "LOCATION"
)

// ButtonType is the type of a template button.
type ButtonType string

// Template button types.
const (
	ButtonQuickReply  ButtonType = "QUICK_REPLY"
	ButtonURL         ButtonType = "URL"
	ButtonPhoneNumber ButtonType = "PHONE_NUMBER"
	ButtonCopyCode    ButtonType = "COPY_CODE"
)

// Template is a message template as Meta returns it from
// GET /{WABA_ID}/message_templates, and as it is created with POST to the same edge
// (without ID and Status).
type Template struct {
	ID              string          `json:"id,omitempty"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Status          Status          `json:"status,omitempty"`
	Category        Category        `json:"category"`
	ParameterFormat ParameterFormat `json:"parameter_format,omitempty"`
	Components      []Component     `json:"components"`
	// RejectedReason is Meta's reason for a REJECTED template, such as
	// "INVALID_FORMAT"; Meta returns it when asked for with fields=rejected_reason.
	RejectedReason string `json:"rejected_reason,omitempty"`
}

// Component is one part of a template: HEADER (Format, and Text for TEXT), BODY
// (Text), FOOTER (Text) or BUTTONS (Buttons). Example holds the sample values
// Meta requires for placeholders and media.
type Component struct {
	Type    ComponentType `json:"type"`
	Format  HeaderFormat  `json:"format,omitempty"`
	Text    string        `json:"text,omitempty"`
	Example *Example      `json:"example,omitempty"`
	Buttons []Button      `json:"buttons,omitempty"`
}

// Example holds a component's sample values: header_text or
// header_text_named_params for a TEXT header's placeholder, header_handle for a
// media header, body_text (one list of values, in placeholder order) or
// body_text_named_params for the body's placeholders.
type Example struct {
	HeaderText            []string       `json:"header_text,omitempty"`
	HeaderTextNamedParams []NamedExample `json:"header_text_named_params,omitempty"`
	HeaderHandle          []string       `json:"header_handle,omitempty"`
	BodyText              [][]string     `json:"body_text,omitempty"`
	BodyTextNamedParams   []NamedExample `json:"body_text_named_params,omitempty"`
}

// NamedExample is the sample value of one named placeholder.
type NamedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

// Button is one template button: QUICK_REPLY (Text), URL (Text, URL, with
// Example holding a full sample URL when the URL ends in {{1}}), PHONE_NUMBER
// (Text, PhoneNumber) or COPY_CODE (Example holding the sample code; the label
// is WhatsApp's own).
type Button struct {
	Type        ButtonType `json:"type"`
	Text        string     `json:"text,omitempty"`
	URL         string     `json:"url,omitempty"`
	PhoneNumber string     `json:"phone_number,omitempty"`
	Example     []string   `json:"example,omitempty"`
}

// UnmarshalJSON accepts Example both as Meta's list (URL buttons) and as a single
// string (COPY_CODE buttons).
func (b *Button) UnmarshalJSON(data []byte) error {
	type plain Button
	var wire struct {
		plain
		Example json.RawMessage `json:"example,omitempty"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	*b = Button(wire.plain)
	b.Example = nil
	if len(wire.Example) == 0 || string(wire.Example) == "null" {
		return nil
	}
	var one string
	if err := json.Unmarshal(wire.Example, &one); err == nil {
		b.Example = []string{one}
		return nil
	}
	if err := json.Unmarshal(wire.Example, &b.Example); err != nil {
		return fmt.Errorf("button example must be a string or a list of strings: %w", err)
	}
	return nil
}

// MarshalJSON writes a COPY_CODE button's example as one string, as Meta does.
func (b Button) MarshalJSON() ([]byte, error) {
	type plain Button
	if b.Type == ButtonCopyCode && len(b.Example) == 1 {
		return json.Marshal(struct {
			plain
			Example string `json:"example"`
		}{plain(b), b.Example[0]})
	}
	return json.Marshal(plain(b))
}

// Normalize upper-cases the enumerations Meta accepts in any case when a template
// is created ("body", "text", "marketing", "url"), so that Validate and the rest
// of this package can compare them exactly.
func (t *Template) Normalize() {
	t.Status = Status(strings.ToUpper(string(t.Status)))
	t.Category = Category(strings.ToUpper(string(t.Category)))
	t.ParameterFormat = ParameterFormat(strings.ToUpper(string(t.ParameterFormat)))
	for i := range t.Components {
		c := &t.Components[i]
		c.Type = ComponentType(strings.ToUpper(string(c.Type)))
		c.Format = HeaderFormat(strings.ToUpper(string(c.Format)))
		for j := range c.Buttons {
			c.Buttons[j].Type = ButtonType(strings.ToUpper(string(c.Buttons[j].Type)))
		}
	}
}

// Component returns the template's component of type typ, or nil.
func (t *Template) Component(typ ComponentType) *Component {
	for i := range t.Components {
		if t.Components[i].Type == typ {
			return &t.Components[i]
		}
	}
	return nil
}

// Buttons returns the template's buttons, in their index order.
func (t *Template) Buttons() []Button {
	if c := t.Component(ComponentButtons); c != nil {
		return c.Buttons
	}
	return nil
}

// Format returns the template's parameter format; POSITIONAL when unset, as at Meta.
func (t *Template) Format() ParameterFormat {
	if t.ParameterFormat == "" {
		return ParameterFormatPositional
	}
	return t.ParameterFormat
}

// Slot is one value a send of a template supplies: a header or body placeholder,
// a media or location header, a URL button's dynamic suffix, a copy-code
// button's code or a quick-reply button's payload.
type Slot struct {
	// Component is "header", "body" or "button", as in a send's components.
	Component string
	// SubType and Index name a button's component: "url", "quick_reply" or
	// "copy_code", and the button's position (0-based).
	SubType string
	Index   int
	// Name is the placeholder: "1", "2" (positional) or the parameter's name
	// (named); empty for media, location, suffix, code and payload slots.
	Name string
	// Type is the parameter type the slot takes: "text" (text, currency or
	// date_time), "image", "video", "document", "location", "payload" or "coupon_code".
	Type string
	// Optional is set for quick-reply payloads, which a send may leave out.
	Optional bool
}

// placeholderRE finds {{...}} placeholders; what is between the braces is
// checked by parsePlaceholder.
var placeholderRE = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// namedRE is what Meta allows as a named parameter: lowercase letters, digits and
// underscores, starting with a letter or an underscore.
var namedRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Placeholders returns the distinct placeholders of a text in the order they
// first appear: "1", "2" for {{1}}, {{2}} or the names of {{name}}.
func Placeholders(text string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

func isPositional(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && strconv.Itoa(n) == p
}

// textSlots returns the slots of a header or body text in placeholder order
// (positional ones sorted by number).
func textSlots(component, text string) []Slot {
	names := Placeholders(text)
	if len(names) > 0 && isPositional(names[0]) {
		slices.SortFunc(names, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		})
	}
	slots := make([]Slot, len(names))
	for i, n := range names {
		slots[i] = Slot{Component: component, Name: n, Type: "text"}
	}
	return slots
}

// Slots returns every value a send of the template supplies, header first, then
// body, then buttons by index. An API or a form can build its inputs from it.
func (t *Template) Slots() []Slot {
	var slots []Slot
	if h := t.Component(ComponentHeader); h != nil {
		switch h.Format {
		case FormatText:
			slots = append(slots, textSlots("header", h.Text)...)
		case FormatImage, FormatVideo, FormatDocument, FormatLocation:
			slots = append(slots, Slot{Component: "header", Type: strings.ToLower(string(h.Format))})
		}
	}
	if b := t.Component(ComponentBody); b != nil {
		slots = append(slots, textSlots("body", b.Text)...)
	}
	for i, b := range t.Buttons() {
		switch b.Type {
		case ButtonURL:
			if len(Placeholders(b.URL)) > 0 {
				slots = append(slots, Slot{Component: "button", SubType: "url", Index: i, Type: "text"})
			}
		case ButtonCopyCode:
			slots = append(slots, Slot{Component: "button", SubType: "copy_code", Index: i, Type: "coupon_code"})
		case ButtonQuickReply:
			slots = append(slots, Slot{Component: "button", SubType: "quick_reply", Index: i, Type: "payload", Optional: true})
		}
	}
	return slots
}

var (
	templateNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)
	// languageRE matches Meta's language and locale codes: "en", "fil", "en_US", "zh_HK".
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
	phoneRE    = regexp.MustCompile(`^\+?[0-9]{4,}$`)
)

// Validate checks a template's definition as Meta does when it is created: the
// name, language and category, one body and at most one header, footer and
// button list, the limits of each, placeholders that are all positional
// ({{1}}..{{n}}, without gaps) or all named ({{name}}) as ParameterFormat says,
// and the samples Meta requires for placeholders and media. Call Normalize first
// when the template comes from a client that may write enumerations in lower case.
// Fields are named as in Meta's request body (components[1].text).
func (t *Template) Validate() error {
	var c checker
	if c.text("name", t.Name, true, MaxTemplateName) && !templateNameRE.MatchString(t.Name) {
		c.add("name", ReasonInvalid, "must be lowercase letters, digits and underscores only, like order_update")
	}
	if t.Language == "" {
		c.add("language", ReasonInvalid, "is required, a language code such as en_US or es")
	} else if !languageRE.MatchString(t.Language) {
		c.add("language", ReasonInvalid, "%q is not a language code such as en_US or es", t.Language)
	}
	switch t.Category {
	case CategoryMarketing, CategoryUtility, CategoryAuthentication:
	case "":
		c.add("category", ReasonInvalid, "is required: MARKETING, UTILITY or AUTHENTICATION")
	default:
		c.add("category", ReasonInvalid, "%q must be MARKETING, UTILITY or AUTHENTICATION", t.Category)
	}
	named := false
	switch t.ParameterFormat {
	case "", ParameterFormatPositional:
	case ParameterFormatNamed:
		named = true
	default:
		c.add("parameter_format", ReasonInvalid, "%q must be POSITIONAL or NAMED", t.ParameterFormat)
	}

	if len(t.Components) == 0 {
		c.add("components", ReasonInvalid, "are required: at least a BODY")
		return c.err()
	}
	seen := map[ComponentType]bool{}
	for i, comp := range t.Components {
		path := at("components", i)
		switch comp.Type {
		case ComponentHeader, ComponentBody, ComponentFooter, ComponentButtons:
		default:
			c.add(path+".type", ReasonInvalid, "%q must be HEADER, BODY, FOOTER or BUTTONS", comp.Type)
			continue
		}
		if seen[comp.Type] {
			c.add(path+".type", ReasonInvalid, "a template has at most one %s", comp.Type)
			continue
		}
		seen[comp.Type] = true
		switch comp.Type {
		case ComponentHeader:
			validateHeader(&c, path, &comp, named)
		case ComponentBody:
			if c.text(path+".text", comp.Text, true, MaxTemplateBodyText) {
				validatePlaceholders(&c, path, "body", comp.Text, comp.Example, named)
			}
		case ComponentFooter:
			if c.text(path+".text", comp.Text, true, MaxTemplateFooterText) && len(Placeholders(comp.Text)) > 0 {
				c.add(path+".text", ReasonInvalid, "a footer cannot have parameters")
			}
		case ComponentButtons:
			validateButtons(&c, path, comp.Buttons)
		}
	}
	if !seen[ComponentBody] {
		c.add("components", ReasonInvalid, "a BODY component is required")
	}
	return c.err()
}

func validateHeader(c *checker, path string, h *Component, named bool) {
	switch h.Format {
	case FormatText:
		if !c.text(path+".text", h.Text, true, MaxTemplateHeaderText) {
			return
		}
		if len(Placeholders(h.Text)) > 1 {
			c.add(path+".text", ReasonInvalid, "a header has at most one parameter")
			return
		}
		validatePlaceholders(c, path, "header", h.Text, h.Example, named)
	case FormatImage, FormatVideo, FormatDocument:
		if h.Text != "" {
			c.add(path+".text", ReasonInvalid, "a %s header has no text", h.Format)
		}
		if h.Example == nil || len(h.Example.HeaderHandle) == 0 {
			c.add(path+".example.header_handle", ReasonInvalid, "a %s header needs a sample media handle", h.Format)
		}
	case FormatLocation:
		if h.Text != "" {
			c.add(path+".text", ReasonInvalid, "a LOCATION header has no text")
		}
	case "":
		c.add(path+".format", ReasonInvalid, "is required: TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION")
	default:
		c.add(path+".format", ReasonInvalid, "%q must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION", h.Format)
	}
}

// validatePlaceholders checks the placeholders of a header or body text: their
// kind against the template's parameter format, positional ones numbered
// 1..n, none at the very start or end of a body, and a sample for each.
func validatePlaceholders(c *checker, path, component, text string, ex *Example, named bool) {
	names := Placeholders(text)
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		switch {
		case named && !namedRE.MatchString(n):
			c.add(path+".text", ReasonInvalid, "{{%s}} is not a named parameter: the template's parameter_format is NAMED, so write {{name}} with lowercase letters, digits and underscores", n)
			return
		case !named && !isPositional(n):
			if namedRE.MatchString(n) {
				c.add(path+".text", ReasonInvalid, "{{%s}} is a named parameter; set parameter_format to NAMED, or write positional parameters {{1}}, {{2}}", n)
			} else {
				c.add(path+".text", ReasonInvalid, "{{%s}} is not a parameter; write {{1}}, {{2}} in order", n)
			}
			return
		}
	}
	if !named {
		for i, s := range textSlots(component, text) {
			if s.Name != strconv.Itoa(i+1) {
				c.add(path+".text", ReasonInvalid, "positional parameters must be numbered {{1}} to {{%d}} without gaps", len(names))
				return
			}
		}
	}
	if component == "body" {
		trimmed := strings.TrimSpace(text)
		if strings.HasPrefix(trimmed, "{{") || strings.HasSuffix(trimmed, "}}") {
			c.add(path+".text", ReasonInvalid, "the body cannot start or end with a parameter")
		}
	}

	examplePath := path + ".example"
	switch {
	case component == "header" && named:
		if ex == nil || !sameNames(names, ex.HeaderTextNamedParams) {
			c.add(examplePath+".header_text_named_params", ReasonInvalid, "needs one sample for each of %s", braces(names))
		}
	case component == "header":
		if ex == nil || len(ex.HeaderText) != len(names) {
			c.add(examplePath+".header_text", ReasonInvalid, "needs %d sample value(s), one for each of %s", len(names), braces(names))
		}
	case named:
		if ex == nil || !sameNames(names, ex.BodyTextNamedParams) {
			c.add(examplePath+".body_text_named_params", ReasonInvalid, "needs one sample for each of %s", braces(names))
		}
	default:
		if ex == nil || len(ex.BodyText) != 1 || len(ex.BodyText[0]) != len(names) {
			c.add(examplePath+".body_text", ReasonInvalid, "needs one list of %d sample value(s), one for each of %s", len(names), braces(names))
		}
	}
}

func sameNames(names []string, examples []NamedExample) bool {
	if len(names) != len(examples) {
		return false
	}
	for _, e := range examples {
		if !slices.Contains(names, e.ParamName) || strings.TrimSpace(e.Example) == "" {
			return false
		}
	}
	return true
}

func braces(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{" + n + "}}"
	}
	return strings.Join(out, ", ")
}

func validateButtons(c *checker, path string, buttons []Button) {
	switch {
	case len(buttons) == 0:
		c.add(path+".buttons", ReasonInvalid, "a BUTTONS component needs at least one button")
		return
	case len(buttons) > MaxTemplateButtons:
		c.add(path+".buttons", ReasonInvalid, "has %d buttons; the limit is %d", len(buttons), MaxTemplateButtons)
		return
	}
	counts := map[ButtonType]int{}
	for i, b := range buttons {
		bp := at(path+".buttons", i)
		counts[b.Type]++
		switch b.Type {
		case ButtonQuickReply:
			c.text(bp+".text", b.Text, true, MaxTemplateButtonText)
		case ButtonURL:
			c.text(bp+".text", b.Text, true, MaxTemplateButtonText)
			validateButtonURL(c, bp, b)
		case ButtonPhoneNumber:
			c.text(bp+".text", b.Text, true, MaxTemplateButtonText)
			if c.text(bp+".phone_number", b.PhoneNumber, true, MaxTemplatePhoneNumber) && !phoneRE.MatchString(b.PhoneNumber) {
				c.add(bp+".phone_number", ReasonInvalid, "must be a phone number in international format, like +15550783881")
			}
		case ButtonCopyCode:
			if len(b.Example) != 1 {
				c.add(bp+".example", ReasonInvalid, "a COPY_CODE button needs one sample code")
			} else {
				c.text(bp+".example", b.Example[0], true, MaxCouponCode)
			}
		default:
			c.add(bp+".type", ReasonInvalid, "%q must be QUICK_REPLY, URL, PHONE_NUMBER or COPY_CODE", b.Type)
		}
	}
	for typ, max := range map[ButtonType]int{ButtonURL: MaxTemplateURLButtons, ButtonPhoneNumber: MaxTemplatePhoneButtons, ButtonCopyCode: MaxTemplateCopyCodeButtons} {
		if counts[typ] > max {
			c.add(path+".buttons", ReasonInvalid, "has %d %s buttons; the limit is %d", counts[typ], typ, max)
		}
	}
}

func validateButtonURL(c *checker, bp string, b Button) {
	if !c.text(bp+".url", b.URL, true, MaxTemplateURL) {
		return
	}
	names := Placeholders(b.URL)
	prefix := b.URL
	if len(names) > 0 {
		if len(names) > 1 || names[0] != "1" || !strings.HasSuffix(b.URL, "{{1}}") || strings.Count(b.URL, "{{") > 1 {
			c.add(bp+".url", ReasonInvalid, "a URL has at most one parameter, {{1}}, at its very end")
			return
		}
		prefix = strings.TrimSuffix(b.URL, "{{1}}")
		if len(b.Example) != 1 || !isHTTPURL(b.Example[0]) {
			c.add(bp+".example", ReasonInvalid, "a URL with {{1}} needs one sample URL, the full address with a sample suffix")
		}
	}
	if !isHTTPURL(prefix + "x") {
		c.add(bp+".url", ReasonInvalid, "must be an http or https URL")
	}
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
