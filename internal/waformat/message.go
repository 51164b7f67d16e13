package waformat

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message types of the Messages API.
const (
	TypeText        = "text"
	TypeImage       = "image"
	TypeVideo       = "video"
	TypeAudio       = "audio"
	TypeDocument    = "document"
	TypeSticker     = "sticker"
	TypeLocation    = "location"
	TypeContacts    = "contacts"
	TypeInteractive = "interactive"
	TypeReaction    = "reaction"
	TypeTemplate    = "template"
)

// Interactive message types this package knows. Meta has more (product,
// product_list, catalog_message, flow, location_request_message), which
// ValidateMessage refuses because it cannot check them.
const (
	InteractiveButton = "button"
	InteractiveList   = "list"
	InteractiveCTAURL = "cta_url"
)

// Message is the body of POST /{phone_number_id}/messages in Meta's shape, with
// the payload of each type this package knows. ValidateMessage checks the type
// and its payload and the reply context; recipient, messaging_product and
// callback data are the sender's business.
type Message struct {
	MessagingProduct      string        `json:"messaging_product,omitempty"`
	RecipientType         string        `json:"recipient_type,omitempty"`
	To                    string        `json:"to,omitempty"`
	Type                  string        `json:"type,omitempty"`
	Context               *Context      `json:"context,omitempty"`
	Text                  *Text         `json:"text,omitempty"`
	Image                 *Media        `json:"image,omitempty"`
	Video                 *Media        `json:"video,omitempty"`
	Audio                 *Media        `json:"audio,omitempty"`
	Document              *Media        `json:"document,omitempty"`
	Sticker               *Media        `json:"sticker,omitempty"`
	Location              *Location     `json:"location,omitempty"`
	Contacts              []Contact     `json:"contacts,omitempty"`
	Interactive           *Interactive  `json:"interactive,omitempty"`
	Reaction              *Reaction     `json:"reaction,omitempty"`
	Template              *TemplateSend `json:"template,omitempty"`
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data,omitempty"`
}

// Context makes a message a reply: WhatsApp shows the quoted message above it.
type Context struct {
	MessageID string `json:"message_id"`
}

// Text is a text message's payload.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// Media is a media object: an uploaded media ID or a public link, exactly one of
// them. Caption applies to images, videos and documents, Filename to documents.
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Location is a location message's payload, and a location header's parameter.
type Location struct {
	Latitude  *Coordinate `json:"latitude,omitempty"`
	Longitude *Coordinate `json:"longitude,omitempty"`
	Name      string      `json:"name,omitempty"`
	Address   string      `json:"address,omitempty"`
}

// Coordinate is a latitude or longitude in degrees. Meta's examples write them
// as strings ("37.44") and its SDKs as numbers; both are accepted, and it is
// written as a number.
type Coordinate float64

// UnmarshalJSON accepts 37.44 and "37.44".
func (c *Coordinate) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("coordinate %q is not a number", s)
		}
		*c = Coordinate(f)
		return nil
	}
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("coordinate must be a number: %w", err)
	}
	*c = Coordinate(f)
	return nil
}

// Contact is one contact card of a contacts message, in Meta's shape.
type Contact struct {
	Name      ContactName      `json:"name"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
}

// ContactName is a contact's name; FormattedName is required.
type ContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactAddress is a contact's postal address.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// ContactEmail is a contact's email address.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactOrg is a contact's organization.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// ContactPhone is a contact's phone number; WaID makes WhatsApp offer a chat.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

// ContactURL is a contact's web address.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// Reaction reacts to a message with an emoji; an empty Emoji removes the
// reaction, so it is always written.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// ValidateMessage checks a free-form message against Meta's limits: the type
// (default text, as at Meta) and its payload, and the reply context. For a
// template it checks only that a name and a language are given; check the rest
// with ValidateTemplateSend and the stored template. Field paths are those of
// Meta's request body (interactive.action.buttons[0].reply.title).
func ValidateMessage(m *Message) error {
	var c checker
	if m == nil {
		c.add("message", ReasonInvalid, "is required")
		return c.err()
	}
	if m.Context != nil {
		c.text("context.message_id", m.Context.MessageID, true, 0)
	}
	typ := m.Type
	if typ == "" {
		typ = TypeText
	}
	missing := func() { c.add(typ, ReasonInvalid, "is required for a %s message", typ) }
	switch typ {
	case TypeText:
		if m.Text == nil {
			missing()
		} else {
			c.text("text.body", m.Text.Body, true, MaxTextBody)
		}
	case TypeImage, TypeVideo, TypeAudio, TypeDocument, TypeSticker:
		media := map[string]*Media{TypeImage: m.Image, TypeVideo: m.Video, TypeAudio: m.Audio, TypeDocument: m.Document, TypeSticker: m.Sticker}[typ]
		if media == nil {
			missing()
		} else {
			validateMedia(&c, typ, media, typ == TypeDocument, typ == TypeImage || typ == TypeVideo || typ == TypeDocument)
		}
	case TypeLocation:
		validateLocation(&c, "location", m.Location)
	case TypeContacts:
		validateContacts(&c, m.Contacts)
	case TypeInteractive:
		if m.Interactive == nil {
			missing()
		} else {
			validateInteractive(&c, m.Interactive)
		}
	case TypeReaction:
		validateReaction(&c, m.Reaction)
	case TypeTemplate:
		if m.Template == nil {
			missing()
		} else {
			c.text("template.name", m.Template.Name, true, MaxTemplateName)
			c.text("template.language.code", m.Template.Language.Code, true, 0)
		}
	default:
		c.add("type", ReasonInvalid, "%q must be one of text, image, video, audio, document, sticker, location, contacts, interactive, reaction or template", m.Type)
	}
	return c.err()
}

// validateMedia checks a media object: exactly one of id and link, an http(s)
// link, a caption only where WhatsApp shows one.
func validateMedia(c *checker, path string, m *Media, filename, caption bool) {
	if m == nil {
		c.add(path, ReasonInvalid, "is required: an object with an uploaded media id or a link")
		return
	}
	switch {
	case m.ID == "" && m.Link == "":
		c.add(path, ReasonInvalid, "needs an uploaded media id or a link")
	case m.ID != "" && m.Link != "":
		c.add(path, ReasonInvalid, "takes an id or a link, not both")
	case m.Link != "" && !isHTTPURL(m.Link):
		c.add(path+".link", ReasonInvalid, "must be an http or https URL")
	}
	if m.Caption != "" {
		if caption {
			c.text(path+".caption", m.Caption, false, MaxCaption)
		} else {
			c.add(path+".caption", ReasonInvalid, "is not shown on this kind of media; leave it out")
		}
	}
	if m.Filename != "" && !filename {
		c.add(path+".filename", ReasonInvalid, "applies to documents only")
	}
}

func validateLocation(c *checker, path string, l *Location) {
	if l == nil {
		c.add(path, ReasonInvalid, "is required: an object with latitude and longitude")
		return
	}
	switch {
	case l.Latitude == nil:
		c.add(path+".latitude", ReasonInvalid, "is required")
	case *l.Latitude < -90 || *l.Latitude > 90:
		c.add(path+".latitude", ReasonInvalid, "%v is not between -90 and 90", float64(*l.Latitude))
	}
	switch {
	case l.Longitude == nil:
		c.add(path+".longitude", ReasonInvalid, "is required")
	case *l.Longitude < -180 || *l.Longitude > 180:
		c.add(path+".longitude", ReasonInvalid, "%v is not between -180 and 180", float64(*l.Longitude))
	}
	c.text(path+".name", l.Name, false, 0)
	c.text(path+".address", l.Address, false, 0)
}

func validateContacts(c *checker, contacts []Contact) {
	if len(contacts) == 0 {
		c.add("contacts", ReasonInvalid, "is required: a list of at least one contact")
		return
	}
	for i, ct := range contacts {
		p := at("contacts", i)
		c.text(p+".name.formatted_name", ct.Name.FormattedName, true, 0)
		for j, ph := range ct.Phones {
			if ph.Phone == "" && ph.WaID == "" {
				c.add(at(p+".phones", j), ReasonInvalid, "needs a phone or a wa_id")
			}
		}
		for j, e := range ct.Emails {
			c.text(at(p+".emails", j)+".email", e.Email, true, 0)
		}
		for j, u := range ct.URLs {
			if !isHTTPURL(u.URL) {
				c.add(at(p+".urls", j)+".url", ReasonInvalid, "must be an http or https URL")
			}
		}
	}
}

func validateReaction(c *checker, r *Reaction) {
	if r == nil {
		c.add("reaction", ReasonInvalid, "is required: an object with message_id and emoji")
		return
	}
	c.text("reaction.message_id", r.MessageID, true, 0)
	if r.Emoji == "" {
		return // removes the reaction
	}
	// A single emoji has no letters or spaces, is not plain ASCII (a keycap such
	// as 1️⃣ starts with an ASCII digit but goes on), and is short.
	notEmoji := strings.IndexFunc(r.Emoji, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsLetter(r) }) >= 0 ||
		strings.IndexFunc(r.Emoji, func(r rune) bool { return r >= utf8.RuneSelf }) < 0
	if notEmoji || utf8.RuneCountInString(r.Emoji) > MaxReactionEmoji {
		c.add("reaction.emoji", ReasonInvalid, "must be a single emoji, or empty to remove the reaction")
	}
}
