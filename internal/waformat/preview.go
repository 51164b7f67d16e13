package waformat

import (
	"fmt"
	"strings"
)

// Preview returns a readable text for a message of any type, for the stored
// message's body and for agents' lists: the text, a caption, an interactive
// message's header, body, footer and choices, a location's name and address, a
// contact's name, a reaction, or for a template Render with t (the stored
// template, nil when unknown).
func Preview(m *Message, t *Template) string {
	if m == nil {
		return ""
	}
	typ := m.Type
	if typ == "" {
		typ = TypeText
	}
	switch typ {
	case TypeText:
		if m.Text != nil {
			return m.Text.Body
		}
	case TypeImage, TypeVideo, TypeAudio, TypeDocument, TypeSticker:
		media := map[string]*Media{TypeImage: m.Image, TypeVideo: m.Video, TypeAudio: m.Audio, TypeDocument: m.Document, TypeSticker: m.Sticker}[typ]
		label := "[" + titleCase(typ) + "]"
		if media != nil && media.Filename != "" {
			label = "[" + titleCase(typ) + ": " + media.Filename + "]"
		}
		if media != nil && media.Caption != "" {
			return label + " " + media.Caption
		}
		return label
	case TypeLocation:
		return previewLocation(m.Location)
	case TypeContacts:
		names := make([]string, 0, len(m.Contacts))
		for _, ct := range m.Contacts {
			line := ct.Name.FormattedName
			if len(ct.Phones) > 0 {
				line += " (" + cmpOr(ct.Phones[0].Phone, "+"+ct.Phones[0].WaID) + ")"
			}
			names = append(names, line)
		}
		return "[Contact] " + strings.Join(names, ", ")
	case TypeInteractive:
		return previewInteractive(m.Interactive)
	case TypeReaction:
		if m.Reaction == nil {
			break
		}
		if m.Reaction.Emoji == "" {
			return "[Reaction removed]"
		}
		return "[Reaction " + m.Reaction.Emoji + "]"
	case TypeTemplate:
		return Render(t, m.Template)
	}
	return "[" + titleCase(typ) + "]"
}

func previewLocation(l *Location) string {
	if l == nil {
		return "[Location]"
	}
	var parts []string
	for _, s := range []string{l.Name, l.Address} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if l.Latitude != nil && l.Longitude != nil {
		parts = append(parts, fmt.Sprintf("(%g, %g)", float64(*l.Latitude), float64(*l.Longitude)))
	}
	if len(parts) == 0 {
		return "[Location]"
	}
	return "[Location] " + strings.Join(parts, " ")
}
