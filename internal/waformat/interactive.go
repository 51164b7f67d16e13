package waformat

import "strings"

// Interactive is an interactive message: reply buttons (type "button"), a list
// ("list") or a call-to-action URL button ("cta_url").
type Interactive struct {
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action *Action            `json:"action,omitempty"`
}

// InteractiveHeader is a text header (Type "text"), or for reply buttons and
// call-to-action URLs a media header ("image", "video", "document").
type InteractiveHeader struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
}

// InteractiveText is an interactive message's body or footer.
type InteractiveText struct {
	Text string `json:"text"`
}

// Action is what the customer can do: Buttons for reply buttons, Button and
// Sections for a list, Name "cta_url" and Parameters for a call-to-action URL.
type Action struct {
	Buttons    []ReplyButton  `json:"buttons,omitempty"`
	Button     string         `json:"button,omitempty"`
	Sections   []ListSection  `json:"sections,omitempty"`
	Name       string         `json:"name,omitempty"`
	Parameters *CTAParameters `json:"parameters,omitempty"`
}

// ReplyButton is one reply button; Type is "reply".
type ReplyButton struct {
	Type  string `json:"type"`
	Reply Reply  `json:"reply"`
}

// Reply is a reply button's id, which comes back in the customer's answer, and title.
type Reply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ListSection is one section of a list; Title is required when there are several.
type ListSection struct {
	Title string    `json:"title,omitempty"`
	Rows  []ListRow `json:"rows"`
}

// ListRow is one choice of a list; its ID comes back in the customer's answer.
type ListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// CTAParameters are a call-to-action URL button's label and address.
type CTAParameters struct {
	DisplayText string `json:"display_text"`
	URL         string `json:"url"`
}

func validateInteractive(c *checker, in *Interactive) {
	const p = "interactive"
	bodyLimit := MaxInteractiveBodyText
	mediaHeader := true
	switch in.Type {
	case InteractiveButton, InteractiveCTAURL:
	case InteractiveList:
		bodyLimit, mediaHeader = MaxListBodyText, false
	case "":
		c.add(p+".type", ReasonInvalid, "is required: button, list or cta_url")
		return
	default:
		c.add(p+".type", ReasonInvalid, "%q must be button, list or cta_url", in.Type)
		return
	}
	if h := in.Header; h != nil {
		switch h.Type {
		case "text":
			c.text(p+".header.text", h.Text, true, MaxInteractiveHeaderText)
		case "image", "video", "document":
			if !mediaHeader {
				c.add(p+".header.type", ReasonInvalid, "a list's header can only be text")
				break
			}
			m := map[string]*Media{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
			validateMedia(c, p+".header."+h.Type, m, h.Type == "document", false)
		default:
			if mediaHeader {
				c.add(p+".header.type", ReasonInvalid, "%q must be text, image, video or document", h.Type)
			} else {
				c.add(p+".header.type", ReasonInvalid, "%q must be text", h.Type)
			}
		}
	}
	if in.Body == nil {
		c.add(p+".body", ReasonInvalid, "is required: an object with text")
	} else {
		c.text(p+".body.text", in.Body.Text, true, bodyLimit)
	}
	if in.Footer != nil {
		c.text(p+".footer.text", in.Footer.Text, true, MaxInteractiveFooterText)
	}
	if in.Action == nil {
		c.add(p+".action", ReasonInvalid, "is required")
		return
	}
	switch in.Type {
	case InteractiveButton:
		validateReplyButtons(c, p+".action.buttons", in.Action.Buttons)
	case InteractiveList:
		validateList(c, p+".action", in.Action)
	case InteractiveCTAURL:
		if in.Action.Name != "cta_url" {
			c.add(p+".action.name", ReasonInvalid, "must be cta_url")
		}
		if in.Action.Parameters == nil {
			c.add(p+".action.parameters", ReasonInvalid, "is required: display_text and url")
			return
		}
		c.text(p+".action.parameters.display_text", in.Action.Parameters.DisplayText, true, MaxCTADisplayText)
		if !isHTTPURL(in.Action.Parameters.URL) {
			c.add(p+".action.parameters.url", ReasonInvalid, "must be an http or https URL")
		}
	}
}

func validateReplyButtons(c *checker, path string, buttons []ReplyButton) {
	if len(buttons) == 0 || len(buttons) > MaxReplyButtons {
		c.add(path, ReasonInvalid, "has %d buttons; reply buttons are 1 to %d", len(buttons), MaxReplyButtons)
		return
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range buttons {
		bp := at(path, i)
		if b.Type != "reply" {
			c.add(bp+".type", ReasonInvalid, "must be reply")
		}
		if c.text(bp+".reply.id", b.Reply.ID, true, MaxReplyButtonID) {
			if ids[b.Reply.ID] {
				c.add(bp+".reply.id", ReasonInvalid, "%q is used by another button; ids must be unique", b.Reply.ID)
			}
			ids[b.Reply.ID] = true
		}
		if c.text(bp+".reply.title", b.Reply.Title, true, MaxReplyButtonTitle) {
			if titles[b.Reply.Title] {
				c.add(bp+".reply.title", ReasonInvalid, "%q is used by another button; titles must be unique", b.Reply.Title)
			}
			titles[b.Reply.Title] = true
		}
	}
}

func validateList(c *checker, path string, a *Action) {
	c.text(path+".button", a.Button, true, MaxListButtonText)
	sp := path + ".sections"
	if len(a.Sections) == 0 || len(a.Sections) > MaxListSections {
		c.add(sp, ReasonInvalid, "has %d sections; a list has 1 to %d", len(a.Sections), MaxListSections)
		return
	}
	rows := 0
	ids := map[string]bool{}
	for i, s := range a.Sections {
		p := at(sp, i)
		c.text(p+".title", s.Title, len(a.Sections) > 1, MaxListSectionTitle)
		if len(s.Rows) == 0 {
			c.add(p+".rows", ReasonInvalid, "a section needs at least one row")
		}
		for j, r := range s.Rows {
			rp := at(p+".rows", j)
			rows++
			if c.text(rp+".id", r.ID, true, MaxListRowID) {
				if ids[r.ID] {
					c.add(rp+".id", ReasonInvalid, "%q is used by another row; ids must be unique", r.ID)
				}
				ids[r.ID] = true
			}
			c.text(rp+".title", r.Title, true, MaxListRowTitle)
			c.text(rp+".description", r.Description, false, MaxListRowDescription)
		}
	}
	if rows > MaxListRows {
		c.add(sp, ReasonInvalid, "have %d rows together; the limit is %d", rows, MaxListRows)
	}
}
func previewInteractive(in *Interactive) string {
	if in == nil {
		return "[Interactive]"
	}
	var parts []string
	if h := in.Header; h != nil {
		if h.Type == "text" {
			parts = append(parts, h.Text)
		} else {
			parts = append(parts, "["+titleCase(h.Type)+"]")
		}
	}
	if in.Body != nil {
		parts = append(parts, in.Body.Text)
	}
	if in.Footer != nil {
		parts = append(parts, in.Footer.Text)
	}
	var choices []string
	if a := in.Action; a != nil {
		switch in.Type {
		case InteractiveButton:
			for _, b := range a.Buttons {
				choices = append(choices, "["+b.Reply.Title+"]")
			}
		case InteractiveList:
			choices = append(choices, "["+a.Button+"]")
			for _, s := range a.Sections {
				if s.Title != "" {
					choices = append(choices, s.Title+":")
				}
				for _, r := range s.Rows {
					line := "- " + r.Title
					if r.Description != "" {
						line += ": " + r.Description
					}
					choices = append(choices, line)
				}
			}
		case InteractiveCTAURL:
			if a.Parameters != nil {
				choices = append(choices, "["+a.Parameters.DisplayText+"] "+a.Parameters.URL)
			}
		}
	}
	if len(choices) > 0 {
		parts = append(parts, strings.Join(choices, "\n"))
	}
	return strings.Join(parts, "\n\n")
}
