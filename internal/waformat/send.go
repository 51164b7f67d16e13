package waformat

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TemplateSend is the template object of a send, in Meta's shape:
// {"name":…,"language":{"code":…},"components":[…]}.
type TemplateSend struct {
	Name       string           `json:"name"`
	Language   TemplateLanguage `json:"language"`
	Components []SendComponent  `json:"components,omitempty"`
}

// TemplateLanguage names the template's translation; Policy is Meta's optional
// "deterministic".
type TemplateLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// SendComponent supplies the parameters of one template component: "header",
// "body", or "button" with SubType ("quick_reply", "url", "copy_code") and the
// button's Index.
type SendComponent struct {
	Type       string      `json:"type"`
	SubType    string      `json:"sub_type,omitempty"`
	Index      Index       `json:"index,omitempty"`
	Parameters []Parameter `json:"parameters,omitempty"`
}

// Index is a button's position. Meta documents it as a string ("0"); a number
// is accepted too, and it is always written as a string. "" means absent.
type Index string

// UnmarshalJSON accepts "0" and 0.
func (i *Index) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*i = Index(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("index must be a string or a number: %w", err)
	}
	*i = Index(n.String())
	return nil
}

// Parameter is one value of a send: type "text" (Text, and ParameterName for
// named templates), "currency", "date_time", "image", "video", "document",
// "location", "payload" (quick reply) or "coupon_code" (copy code).
type Parameter struct {
	Type          string    `json:"type"`
	ParameterName string    `json:"parameter_name,omitempty"`
	Text          string    `json:"text,omitempty"`
	Payload       string    `json:"payload,omitempty"`
	CouponCode    string    `json:"coupon_code,omitempty"`
	Currency      *Currency `json:"currency,omitempty"`
	DateTime      *DateTime `json:"date_time,omitempty"`
	Image         *Media    `json:"image,omitempty"`
	Video         *Media    `json:"video,omitempty"`
	Document      *Media    `json:"document,omitempty"`
	Location      *Location `json:"location,omitempty"`
}

// Currency is a localized amount; WhatsApp shows FallbackValue when it cannot
// localize. Amount1000 is the amount times 1000.
type Currency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    int64  `json:"amount_1000"`
}

// DateTime is a localized date; WhatsApp shows FallbackValue.
type DateTime struct {
	FallbackValue string `json:"fallback_value"`
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// ValidateTemplateSend checks a send against the stored template it names, as
// Meta does before accepting it: the template exists (t is the caller's lookup by
// name and language, nil when there is none), has that name and language, is
// APPROVED, and every component gets exactly the parameters its placeholders,
// media header and buttons take, of the right types, named or positional as the
// template is, within Meta's limits. Field paths start at "template", as in a
// message body. A problem with the template itself (missing, other language, not
// approved) is reported alone.
func ValidateTemplateSend(t *Template, s *TemplateSend) error {
	var c checker
	if s == nil {
		c.add("template", ReasonInvalid, "is required")
		return c.err()
	}
	c.text("template.name", s.Name, true, MaxTemplateName)
	c.text("template.language.code", s.Language.Code, true, 0)
	if s.Language.Policy != "" && s.Language.Policy != "deterministic" {
		c.add("template.language.policy", ReasonInvalid, "must be deterministic when given")
	}
	if c.failed() {
		return c.err()
	}
	switch {
	case t == nil || t.Name != s.Name:
		c.add("template.name", ReasonTemplateNotFound, "there is no template named %q", s.Name)
	case t.Language != s.Language.Code:
		c.add("template.language.code", ReasonTemplateLanguage, "template %q has no %q translation; this one is %q", s.Name, s.Language.Code, t.Language)
	case t.Status == StatusPaused:
		c.add("template.name", ReasonTemplatePaused, "template %q is paused by Meta for low quality and cannot be sent until it is approved again", s.Name)
	case t.Status == StatusDisabled:
		c.add("template.name", ReasonTemplateDisabled, "template %q is disabled by Meta for low quality and cannot be sent", s.Name)
	case t.Status != StatusApproved:
		c.add("template.name", ReasonTemplateNotApproved, "template %q is %s; only APPROVED templates can be sent", s.Name, cmpOr(string(t.Status), "not reviewed"))
	}
	if c.failed() {
		return c.err()
	}

	v := sendValidator{c: &c, t: t, named: t.Format() == ParameterFormatNamed}
	v.bodyOnly = len(t.Components) == 1
	slots := t.Slots()
	given := map[string]bool{} // "header", "body", "button/url/1"
	for i, comp := range s.Components {
		path := at("template.components", i)
		typ := strings.ToLower(comp.Type)
		switch typ {
		case "header", "body":
			if given[typ] {
				c.add(path+".type", ReasonInvalid, "a send has at most one %s component", typ)
				continue
			}
			given[typ] = true
			v.params(path, typ, slotsOf(slots, typ, "", 0), comp.Parameters)
		case "button":
			key, ok := v.button(path, comp, slots)
			if !ok {
				continue
			}
			if given[key] {
				c.add(path+".index", ReasonInvalid, "button %s is given twice", comp.Index)
				continue
			}
			given[key] = true
		case "":
			c.add(path+".type", ReasonInvalid, "is required: header, body or button")
		default:
			c.add(path+".type", ReasonInvalid, "%q must be header, body or button", comp.Type)
		}
	}
	// A component whose placeholders, media or button needs a value must be there.
	for _, s := range slots {
		key := s.Component
		if s.Component == "button" {
			key = fmt.Sprintf("button/%s/%d", s.SubType, s.Index)
		}
		if given[key] || s.Optional {
			continue
		}
		given[key] = true // one message per component
		c.add("template.components", ReasonParameterCount, "the template's %s needs %s; add a %s component", describeSlot(s), describeCount(slotsOf(slots, s.Component, s.SubType, s.Index)), componentHint(s))
	}
	return c.err()
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func slotsOf(slots []Slot, component, subType string, index int) []Slot {
	var out []Slot
	for _, s := range slots {
		if s.Component == component && (component != "button" || (s.SubType == subType && s.Index == index)) {
			out = append(out, s)
		}
	}
	return out
}

func describeSlot(s Slot) string {
	if s.Component == "button" {
		return fmt.Sprintf("%s button %d", strings.ReplaceAll(s.SubType, "_", " "), s.Index)
	}
	return s.Component
}

func describeCount(slots []Slot) string {
	if len(slots) == 1 && slots[0].Name == "" {
		if strings.ContainsRune("aeiou", rune(slots[0].Type[0])) {
			return "an " + slots[0].Type + " parameter"
		}
		return "a " + slots[0].Type + " parameter"
	}
	names := make([]string, len(slots))
	for i, s := range slots {
		names[i] = s.Name
	}
	if len(slots) == 1 {
		return "1 parameter (" + braces(names) + ")"
	}
	return fmt.Sprintf("%d parameters (%s)", len(slots), braces(names))
}

func componentHint(s Slot) string {
	if s.Component == "button" {
		return fmt.Sprintf(`{"type":"button","sub_type":%q,"index":"%d"}`, s.SubType, s.Index)
	}
	return s.Component
}

type sendValidator struct {
	c        *checker
	t        *Template
	named    bool
	bodyOnly bool
}

// button checks a button component and its parameter; it returns the key of the
// button for duplicate detection.
func (v *sendValidator) button(path string, comp SendComponent, slots []Slot) (string, bool) {
	c := v.c
	sub := strings.ToLower(comp.SubType)
	switch sub {
	case "url", "quick_reply", "copy_code":
	case "":
		c.add(path+".sub_type", ReasonInvalid, "is required for a button: quick_reply, url or copy_code")
		return "", false
	default:
		c.add(path+".sub_type", ReasonInvalid, "%q must be quick_reply, url or copy_code", comp.SubType)
		return "", false
	}
	if comp.Index == "" {
		c.add(path+".index", ReasonInvalid, "is required for a button: its position in the template, from \"0\"")
		return "", false
	}
	idx, err := strconv.Atoi(string(comp.Index))
	if err != nil || idx < 0 || idx >= MaxTemplateButtons {
		c.add(path+".index", ReasonInvalid, "%q must be a button position from \"0\" to \"%d\"", comp.Index, MaxTemplateButtons-1)
		return "", false
	}
	buttons := v.t.Buttons()
	if idx >= len(buttons) {
		c.add(path+".index", ReasonParameterFormat, "the template has %d button(s); there is no button %d", len(buttons), idx)
		return "", false
	}
	want := map[string]ButtonType{"url": ButtonURL, "quick_reply": ButtonQuickReply, "copy_code": ButtonCopyCode}[sub]
	if buttons[idx].Type != want {
		c.add(path+".sub_type", ReasonParameterFormat, "button %d of the template is %s, not %s", idx, buttons[idx].Type, want)
		return "", false
	}
	key := fmt.Sprintf("button/%s/%d", sub, idx)
	bslots := slotsOf(slots, "button", sub, idx)
	if len(bslots) == 0 {
		// A URL button without {{1}}: nothing to supply.
		if len(comp.Parameters) > 0 {
			c.add(path+".parameters", ReasonParameterCount, "button %d has a fixed URL and takes no parameters", idx)
		}
		return key, true
	}
	if bslots[0].Optional && len(comp.Parameters) == 0 {
		return key, true
	}
	v.params(path, "button", bslots, comp.Parameters)
	return key, true
}

// params checks the parameters of one component against its slots.
func (v *sendValidator) params(path, component string, slots []Slot, params []Parameter) {
	c := v.c
	pp := path + ".parameters"
	if len(slots) == 0 {
		if len(params) > 0 {
			c.add(pp, ReasonParameterCount, "the template's %s takes no parameters; got %d", component, len(params))
		}
		return
	}
	if len(params) != len(slots) {
		c.add(pp, ReasonParameterCount, "the template's %s takes %s; got %d", describeSlot(slots[0]), describeCount(slots), len(params))
		return
	}
	textish := slots[0].Type == "text" && slots[0].Name != ""
	used := map[string]bool{}
	for j, p := range params {
		fp := at(pp, j)
		slot := slots[j]
		if textish && v.named {
			switch {
			case p.ParameterName == "":
				c.add(fp+".parameter_name", ReasonParameterFormat, "is required: the template uses named parameters (%s)", braces(slotNames(slots)))
				continue
			case used[p.ParameterName]:
				c.add(fp+".parameter_name", ReasonParameterFormat, "{{%s}} is given twice", p.ParameterName)
				continue
			}
			found := false
			for _, s := range slots {
				if s.Name == p.ParameterName {
					slot, found = s, true
				}
			}
			if !found {
				c.add(fp+".parameter_name", ReasonParameterFormat, "the template's %s has no {{%s}}; its parameters are %s", component, p.ParameterName, braces(slotNames(slots)))
				continue
			}
			used[p.ParameterName] = true
		} else if p.ParameterName != "" {
			if textish {
				c.add(fp+".parameter_name", ReasonParameterFormat, "must be left out: the template uses positional parameters ({{1}}, {{2}}), matched by order")
			} else {
				c.add(fp+".parameter_name", ReasonParameterFormat, "must be left out for a %s parameter", slot.Type)
			}
			continue
		}
		v.param(fp, component, slot, p)
	}
}

func slotNames(slots []Slot) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = s.Name
	}
	return out
}

// param checks one parameter's type and value against its slot.
func (v *sendValidator) param(fp, component string, slot Slot, p Parameter) {
	c := v.c
	typ := strings.ToLower(p.Type)
	okType := typ == slot.Type || (slot.Type == "text" && slot.Component != "button" && (typ == "currency" || typ == "date_time"))
	if !okType {
		switch {
		case typ == "":
			c.add(fp+".type", ReasonInvalid, "is required: %s", slot.Type)
		case slot.Type == "text" && slot.Component != "button":
			c.add(fp+".type", ReasonParameterFormat, "%q does not fit a text placeholder: use text, currency or date_time", p.Type)
		default:
			c.add(fp+".type", ReasonParameterFormat, "%q does not fit the template's %s: use %s", p.Type, describeSlot(slot), slot.Type)
		}
		return
	}
	switch typ {
	case "text":
		switch {
		case component == "button":
			v.urlSuffix(fp+".text", slot, p.Text)
		case component == "header":
			v.textParam(fp+".text", p.Text, MaxHeaderTextParam)
		default:
			limit := MaxBodyTextParam
			if v.bodyOnly {
				limit = MaxBodyOnlyTextParam
			}
			v.textParam(fp+".text", p.Text, limit)
		}
	case "currency":
		if p.Currency == nil {
			c.add(fp+".currency", ReasonInvalid, "is required for a currency parameter")
			return
		}
		v.textParam(fp+".currency.fallback_value", p.Currency.FallbackValue, MaxHeaderTextParam)
		if !currencyRE.MatchString(p.Currency.Code) {
			c.add(fp+".currency.code", ReasonInvalid, "must be an ISO 4217 currency code such as USD")
		}
	case "date_time":
		if p.DateTime == nil {
			c.add(fp+".date_time", ReasonInvalid, "is required for a date_time parameter")
			return
		}
		v.textParam(fp+".date_time.fallback_value", p.DateTime.FallbackValue, MaxHeaderTextParam)
	case "image", "video", "document":
		m := map[string]*Media{"image": p.Image, "video": p.Video, "document": p.Document}[typ]
		validateMedia(c, fp+"."+typ, m, typ == "document", false)
	case "location":
		validateLocation(c, fp+".location", p.Location)
	case "payload":
		c.text(fp+".payload", p.Payload, true, MaxQuickReplyPayload)
	case "coupon_code":
		c.text(fp+".coupon_code", p.CouponCode, true, MaxCouponCode)
	}
}

// textParam checks a header or body text parameter: not blank, within limit,
// and no newline, tab or run of more than four spaces, which Meta refuses.
func (v *sendValidator) textParam(field, s string, limit int) {
	if !v.c.text(field, s, true, limit) {
		return
	}
	if strings.ContainsAny(s, "\n\r\t") || strings.Contains(s, strings.Repeat(" ", MaxParamConsecutiveSpaces+1)) {
		v.c.add(field, ReasonParameterText, "cannot contain newlines, tabs or more than %d consecutive spaces", MaxParamConsecutiveSpaces)
	}
}

// urlSuffix checks a URL button's dynamic suffix: the whole URL stays within
// Meta's limit and the suffix has no spaces.
func (v *sendValidator) urlSuffix(field string, slot Slot, suffix string) {
	if !v.c.text(field, suffix, true, 0) {
		return
	}
	prefix := strings.TrimSuffix(v.t.Buttons()[slot.Index].URL, "{{1}}")
	if n := utf8.RuneCountInString(prefix) + utf8.RuneCountInString(suffix); n > MaxTemplateURL {
		v.c.add(field, ReasonTooLong, "makes a URL of %d characters; the limit is %d, so the suffix can have at most %d", n, MaxTemplateURL, MaxTemplateURL-utf8.RuneCountInString(prefix))
		return
	}
	if strings.ContainsAny(suffix, " \n\r\t") {
		v.c.add(field, ReasonInvalid, "is appended to the URL and cannot contain spaces; URL-encode them")
	}
}

// Render returns the text the customer sees for a send of t: the header's text
// (or a bracketed label for a media or location header), the body and the
// footer with the parameters filled in, and one line per button label. It is
// meant for the readable body of a stored message. Placeholders without a value
// stay as {{…}}; with a nil send the template itself is shown.
func Render(t *Template, s *TemplateSend) string {
	if t == nil {
		if s == nil {
			return ""
		}
		return fmt.Sprintf("[Template %s (%s)]", s.Name, s.Language.Code)
	}
	values := map[string]map[string]string{"header": {}, "body": {}} // component → placeholder → value
	var headerParam *Parameter
	buttonValues := map[int]string{}
	if s != nil {
		for _, comp := range s.Components {
			typ := strings.ToLower(comp.Type)
			switch typ {
			case "header", "body":
				for j, p := range comp.Parameters {
					name := p.ParameterName
					if name == "" {
						name = strconv.Itoa(j + 1)
					}
					values[typ][name] = paramText(p)
					if typ == "header" && j == 0 {
						headerParam = &comp.Parameters[0]
					}
				}
			case "button":
				if idx, err := strconv.Atoi(string(comp.Index)); err == nil && len(comp.Parameters) > 0 {
					buttonValues[idx] = paramText(comp.Parameters[0])
				}
			}
		}
	}

	var parts []string
	if h := t.Component(ComponentHeader); h != nil {
		switch h.Format {
		case FormatText:
			parts = append(parts, fill(h.Text, values["header"]))
		case FormatLocation:
			label := "[Location]"
			if headerParam != nil && headerParam.Location != nil && headerParam.Location.Name != "" {
				label = "[Location: " + headerParam.Location.Name + "]"
			}
			parts = append(parts, label)
		default:
			parts = append(parts, "["+titleCase(string(h.Format))+"]")
		}
	}
	if b := t.Component(ComponentBody); b != nil {
		parts = append(parts, fill(b.Text, values["body"]))
	}
	if f := t.Component(ComponentFooter); f != nil {
		parts = append(parts, f.Text)
	}
	var buttons []string
	for i, b := range t.Buttons() {
		switch b.Type {
		case ButtonCopyCode:
			code := buttonValues[i]
			if code == "" && len(b.Example) == 1 {
				code = b.Example[0]
			}
			buttons = append(buttons, "[Copy offer code: "+code+"]")
		default:
			buttons = append(buttons, "["+b.Text+"]")
		}
	}
	if len(buttons) > 0 {
		parts = append(parts, strings.Join(buttons, "\n"))
	}
	return strings.Join(parts, "\n\n")
}

func paramText(p Parameter) string {
	switch strings.ToLower(p.Type) {
	case "currency":
		if p.Currency != nil {
			return p.Currency.FallbackValue
		}
	case "date_time":
		if p.DateTime != nil {
			return p.DateTime.FallbackValue
		}
	case "payload":
		return p.Payload
	case "coupon_code":
		return p.CouponCode
	}
	return p.Text
}

func fill(text string, values map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := values[m[2:len(m)-2]]; ok {
			return v
		}
		return m
	})
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}
