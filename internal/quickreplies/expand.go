package quickreplies

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Vars are the values a quick reply's variables take when it is used in a conversation.
type Vars struct {
	ContactName    string // the customer's WhatsApp profile name; empty when unknown
	ContactPhone   string // the customer's number, +<wa_id>
	AgentName      string
	AgentEmail     string
	ConversationID int64
}

// VarsFor fills Vars from the conversation's contact and the agent who sends.
func VarsFor(conversationID int64, contact *db.Contact, agent *db.User) Vars {
	v := Vars{ConversationID: conversationID}
	if contact != nil {
		v.ContactName = strings.TrimSpace(contact.ProfileName)
		if contact.WaID != "" {
			v.ContactPhone = "+" + strings.TrimPrefix(contact.WaID, "+")
		}
	}
	if agent != nil {
		v.AgentName, v.AgentEmail = agent.Name, agent.Email
	}
	return v
}

// Variables are the names Expand fills, as written in a body: {{contact.name}}.
var Variables = []string{
	"contact.name", "contact.first_name", "contact.phone",
	"agent.name", "agent.first_name", "agent.email",
	"conversation.id",
}

func (v *Vars) lookup(name string) (string, bool) {
	switch name {
	case "contact.name":
		return v.ContactName, true
	case "contact.first_name":
		return firstWord(v.ContactName), true
	case "contact.phone":
		return v.ContactPhone, true
	case "agent.name":
		return v.AgentName, true
	case "agent.first_name":
		return firstWord(v.AgentName), true
	case "agent.email":
		return v.AgentEmail, true
	case "conversation.id":
		if v.ConversationID == 0 {
			return "", true
		}
		return strconv.FormatInt(v.ConversationID, 10), true
	}
	return "", false
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// variable is {{name}} or {{name | fallback}}, spaces inside the braces optional.
var variable = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// Expand fills the variables of body (see Variables; names are case-insensitive, spaces inside
// the braces are ignored). A variable whose value is unknown (a contact without a profile name,
// say) becomes the empty string, or its fallback when written {{contact.name | there}}: the
// quick reply's author picks a fallback in the customer's language, since wainbox does not know
// it. Anything else in braces, unknown names included, stays as written.
func Expand(body string, v Vars) string {
	if !strings.Contains(body, "{{") {
		return body
	}
	return variable.ReplaceAllStringFunc(body, func(m string) string {
		name, fallback, _ := strings.Cut(m[2:len(m)-2], "|")
		value, ok := v.lookup(strings.ToLower(strings.TrimSpace(name)))
		if !ok {
			return m
		}
		if value == "" {
			return strings.TrimSpace(fallback)
		}
		return value
	})
}

// ExpandMessage returns a copy of m with the variables of its text fields filled (Expand): an
// interactive message's header, body and footer text, and a template's text parameters (so a
// template's {{1}} can take {{contact.name}}). Button titles, list rows, ids and links stay as
// written: they have short limits and identify choices. m is not changed; nil stays nil.
func ExpandMessage(m *waformat.Message, v Vars) *waformat.Message {
	if m == nil {
		return nil
	}
	c := *m
	if m.Interactive != nil {
		in := *m.Interactive
		if in.Header != nil {
			h := *in.Header
			h.Text = Expand(h.Text, v)
			in.Header = &h
		}
		if in.Body != nil {
			in.Body = &waformat.InteractiveText{Text: Expand(in.Body.Text, v)}
		}
		if in.Footer != nil {
			in.Footer = &waformat.InteractiveText{Text: Expand(in.Footer.Text, v)}
		}
		c.Interactive = &in
	}
	if m.Template != nil {
		t := *m.Template
		t.Components = slices.Clone(t.Components)
		for i := range t.Components {
			params := slices.Clone(t.Components[i].Parameters)
			for j := range params {
				if params[j].Type == "text" {
					params[j].Text = Expand(params[j].Text, v)
				}
			}
			t.Components[i].Parameters = params
		}
		c.Template = &t
	}
	return &c
}
