package waformat_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/waformat"
)

// decode reads a message in Meta's request shape, as an API client sends it.
func decode(t *testing.T, raw string) *waformat.Message {
	t.Helper()
	var m waformat.Message
	require.NoError(t, json.Unmarshal([]byte(raw), &m), raw)
	return &m
}

func buttons(titles ...string) string {
	var out []string
	for i, title := range titles {
		b, _ := json.Marshal(waformat.ReplyButton{Type: "reply", Reply: waformat.Reply{ID: "b" + strings.Repeat("i", i), Title: title}})
		out = append(out, string(b))
	}
	return `{"type":"interactive","interactive":{"type":"button","body":{"text":"Pick one"},"action":{"buttons":[` + strings.Join(out, ",") + `]}}}`
}

func list(rowsPerSection ...int) string {
	var sections []waformat.ListSection
	n := 0
	for i, rows := range rowsPerSection {
		s := waformat.ListSection{Title: "Section " + string(rune('A'+i))}
		for range rows {
			n++
			s.Rows = append(s.Rows, waformat.ListRow{ID: "row-" + strings.Repeat("x", n), Title: "Row"})
		}
		sections = append(sections, s)
	}
	raw, _ := json.Marshal(waformat.Message{Type: "interactive", Interactive: &waformat.Interactive{
		Type: "list", Body: &waformat.InteractiveText{Text: "Choose"}, Action: &waformat.Action{Button: "Options", Sections: sections},
	}})
	return string(raw)
}

func TestValidateMessage(t *testing.T) {
	t.Parallel()
	const cta = `{"type":"interactive","interactive":{"type":"cta_url","header":{"type":"image","image":{"link":"https://cdn.example.com/a.jpg"}},
		"body":{"text":"See your order"},"footer":{"text":"Thanks"},"action":{"name":"cta_url","parameters":{"display_text":"Open","url":"https://shop.example.com/o/1"}}}}`
	repl := func(s, old, new string) string {
		out := strings.Replace(s, old, new, 1)
		if out == s {
			panic("no " + old + " in " + s)
		}
		return out
	}
	tests := []struct {
		name   string
		raw    string
		field  string // "" expects no error
		reason waformat.Reason
	}{
		// Text.
		{"text", `{"type":"text","text":{"body":"hola","preview_url":true}}`, "", ""},
		{"type defaults to text", `{"text":{"body":"hola"}}`, "", ""},
		{"text at 4096", `{"type":"text","text":{"body":"` + strings.Repeat("ñ", 4096) + `"}}`, "", ""},
		{"text at 4097", `{"type":"text","text":{"body":"` + strings.Repeat("ñ", 4097) + `"}}`, "text.body", waformat.ReasonTooLong},
		{"text blank", `{"type":"text","text":{"body":" \n"}}`, "text.body", waformat.ReasonInvalid},
		{"text missing", `{"type":"text"}`, "text", waformat.ReasonInvalid},
		{"unknown type", `{"type":"hologram"}`, "type", waformat.ReasonInvalid},
		{"reply", `{"type":"text","context":{"message_id":"wamid.X"},"text":{"body":"yes"}}`, "", ""},
		{"reply without id", `{"type":"text","context":{},"text":{"body":"yes"}}`, "context.message_id", waformat.ReasonInvalid},

		// Reply buttons: 1 to 3, id 256, title 20, body 1024, header and footer 60.
		{"one button", buttons("Yes"), "", ""},
		{"three buttons", buttons("Yes", "No", "Maybe"), "", ""},
		{"no buttons", buttons(), "interactive.action.buttons", waformat.ReasonInvalid},
		{"four buttons", buttons("A", "B", "C", "D"), "interactive.action.buttons", waformat.ReasonInvalid},
		{"title at 20", buttons(strings.Repeat("t", 20)), "", ""},
		{"title at 21", buttons(strings.Repeat("t", 21)), "interactive.action.buttons[0].reply.title", waformat.ReasonTooLong},
		{"same titles", buttons("Yes", "Yes"), "interactive.action.buttons[1].reply.title", waformat.ReasonInvalid},
		{"id at 256", repl(buttons("Yes"), `"id":"b"`, `"id":"`+strings.Repeat("i", 256)+`"`), "", ""},
		{"id at 257", repl(buttons("Yes"), `"id":"b"`, `"id":"`+strings.Repeat("i", 257)+`"`), "interactive.action.buttons[0].reply.id", waformat.ReasonTooLong},
		{"same ids", repl(buttons("Yes", "No"), `"id":"bi"`, `"id":"b"`), "interactive.action.buttons[1].reply.id", waformat.ReasonInvalid},
		{"button not reply", repl(buttons("Yes"), `"type":"reply"`, `"type":"url"`), "interactive.action.buttons[0].type", waformat.ReasonInvalid},
		{"body at 1024", repl(buttons("Yes"), "Pick one", strings.Repeat("b", 1024)), "", ""},
		{"body at 1025", repl(buttons("Yes"), "Pick one", strings.Repeat("b", 1025)), "interactive.body.text", waformat.ReasonTooLong},
		{"no body", repl(buttons("Yes"), `"body":{"text":"Pick one"},`, ""), "interactive.body", waformat.ReasonInvalid},
		{"text header at 60", repl(buttons("Yes"), `"body"`, `"header":{"type":"text","text":"`+strings.Repeat("h", 60)+`"},"body"`), "", ""},
		{"text header at 61", repl(buttons("Yes"), `"body"`, `"header":{"type":"text","text":"`+strings.Repeat("h", 61)+`"},"body"`), "interactive.header.text", waformat.ReasonTooLong},
		{"footer at 61", repl(buttons("Yes"), `"action"`, `"footer":{"text":"`+strings.Repeat("f", 61)+`"},"action"`), "interactive.footer.text", waformat.ReasonTooLong},
		{"video header without media", repl(buttons("Yes"), `"body"`, `"header":{"type":"video"},"body"`), "interactive.header.video", waformat.ReasonInvalid},
		{"unknown header", repl(buttons("Yes"), `"body"`, `"header":{"type":"gif"},"body"`), "interactive.header.type", waformat.ReasonInvalid},
		{"unknown interactive", `{"type":"interactive","interactive":{"type":"product"}}`, "interactive.type", waformat.ReasonInvalid},
		{"no action", `{"type":"interactive","interactive":{"type":"button","body":{"text":"x"}}}`, "interactive.action", waformat.ReasonInvalid},

		// Lists: button 20, 1-10 sections, 10 rows in all, titles 24, description 72, id 200.
		{"list", list(2, 3), "", ""},
		{"ten rows", list(4, 3, 3), "", ""},
		{"eleven rows", list(4, 4, 3), "interactive.action.sections", waformat.ReasonInvalid},
		{"ten sections", list(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), "", ""},
		{"eleven sections", list(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), "interactive.action.sections", waformat.ReasonInvalid},
		{"empty section", list(2, 0), "interactive.action.sections[1].rows", waformat.ReasonInvalid},
		{"list button at 21", repl(list(1), "Options", strings.Repeat("o", 21)), "interactive.action.button", waformat.ReasonTooLong},
		{"list without button", repl(list(1), `"button":"Options",`, ""), "interactive.action.button", waformat.ReasonInvalid},
		{"section title at 24", repl(list(1, 1), "Section A", strings.Repeat("s", 24)), "", ""},
		{"section title at 25", repl(list(1, 1), "Section A", strings.Repeat("s", 25)), "interactive.action.sections[0].title", waformat.ReasonTooLong},
		{"untitled sections", repl(list(1, 1), `"title":"Section B",`, ""), "interactive.action.sections[1].title", waformat.ReasonInvalid},
		{"one untitled section", repl(list(1), `"title":"Section A",`, ""), "", ""},
		{"row title at 25", repl(list(1), `"title":"Row"`, `"title":"`+strings.Repeat("r", 25)+`"`), "interactive.action.sections[0].rows[0].title", waformat.ReasonTooLong},
		{"row description at 72", repl(list(1), `"title":"Row"`, `"title":"Row","description":"`+strings.Repeat("d", 72)+`"`), "", ""},
		{"row description at 73", repl(list(1), `"title":"Row"`, `"title":"Row","description":"`+strings.Repeat("d", 73)+`"`), "interactive.action.sections[0].rows[0].description", waformat.ReasonTooLong},
		{"row id at 200", repl(list(1), `"id":"row-x"`, `"id":"`+strings.Repeat("i", 200)+`"`), "", ""},
		{"row id at 201", repl(list(1), `"id":"row-x"`, `"id":"`+strings.Repeat("i", 201)+`"`), "interactive.action.sections[0].rows[0].id", waformat.ReasonTooLong},
		{"same row ids", repl(list(2), `"id":"row-xx"`, `"id":"row-x"`), "interactive.action.sections[0].rows[1].id", waformat.ReasonInvalid},
		{"list body at 4096", repl(list(1), "Choose", strings.Repeat("c", 4096)), "", ""},
		{"list body at 4097", repl(list(1), "Choose", strings.Repeat("c", 4097)), "interactive.body.text", waformat.ReasonTooLong},
		{"list with image header", repl(list(1), `"body"`, `"header":{"type":"image","image":{"id":"1"}},"body"`), "interactive.header.type", waformat.ReasonInvalid},

		// Call-to-action URL.
		{"cta", cta, "", ""},
		{"cta label at 20", repl(cta, `"Open"`, `"`+strings.Repeat("o", 20)+`"`), "", ""},
		{"cta label at 21", repl(cta, `"Open"`, `"`+strings.Repeat("o", 21)+`"`), "interactive.action.parameters.display_text", waformat.ReasonTooLong},
		{"cta url not http", repl(cta, "https://shop.example.com/o/1", "javascript:alert(1)"), "interactive.action.parameters.url", waformat.ReasonInvalid},
		{"cta wrong name", repl(cta, `"name":"cta_url"`, `"name":"open"`), "interactive.action.name", waformat.ReasonInvalid},
		{"cta without parameters", repl(cta, `,"parameters":{"display_text":"Open","url":"https://shop.example.com/o/1"}`, ""), "interactive.action.parameters", waformat.ReasonInvalid},

		// Location.
		{"location", `{"type":"location","location":{"latitude":37.4847,"longitude":-122.1473,"name":"HQ","address":"1 Hacker Way"}}`, "", ""},
		{"location as strings", `{"type":"location","location":{"latitude":"-90","longitude":"180"}}`, "", ""},
		{"latitude beyond 90", `{"type":"location","location":{"latitude":90.5,"longitude":0}}`, "location.latitude", waformat.ReasonInvalid},
		{"longitude beyond -180", `{"type":"location","location":{"latitude":0,"longitude":-180.1}}`, "location.longitude", waformat.ReasonInvalid},
		{"no longitude", `{"type":"location","location":{"latitude":0}}`, "location.longitude", waformat.ReasonInvalid},
		{"no location", `{"type":"location"}`, "location", waformat.ReasonInvalid},

		// Contacts.
		{"contact", `{"type":"contacts","contacts":[{"name":{"formatted_name":"Ana Ruiz","first_name":"Ana"},"phones":[{"phone":"+1 650 555 1234","type":"WORK","wa_id":"16505551234"}],"emails":[{"email":"ana@example.com"}],"urls":[{"url":"https://example.com"}],"org":{"company":"Acme"}}]}`, "", ""},
		{"contact without formatted name", `{"type":"contacts","contacts":[{"name":{"first_name":"Ana"}}]}`, "contacts[0].name.formatted_name", waformat.ReasonInvalid},
		{"no contacts", `{"type":"contacts","contacts":[]}`, "contacts", waformat.ReasonInvalid},
		{"phone without number", `{"type":"contacts","contacts":[{"name":{"formatted_name":"Ana"},"phones":[{"type":"HOME"}]}]}`, "contacts[0].phones[0]", waformat.ReasonInvalid},

		// Reactions.
		{"reaction", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}`, "", ""},
		{"reaction with a family emoji", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👨‍👩‍👧‍👦"}}`, "", ""},
		{"reaction with a keycap", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"1️⃣"}}`, "", ""},
		{"reaction removed", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":""}}`, "", ""},
		{"reaction with words", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"ok"}}`, "reaction.emoji", waformat.ReasonInvalid},
		{"reaction with an ASCII smiley", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":":)"}}`, "reaction.emoji", waformat.ReasonInvalid},
		{"reaction with two emojis and a space", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍 👍"}}`, "reaction.emoji", waformat.ReasonInvalid},
		{"reaction without message", `{"type":"reaction","reaction":{"emoji":"👍"}}`, "reaction.message_id", waformat.ReasonInvalid},

		// Media.
		{"image by id", `{"type":"image","image":{"id":"1234","caption":"look"}}`, "", ""},
		{"image by link and id", `{"type":"image","image":{"id":"1234","link":"https://x.example/a.jpg"}}`, "image", waformat.ReasonInvalid},
		{"image caption at 1025", `{"type":"image","image":{"id":"1","caption":"` + strings.Repeat("c", 1025) + `"}}`, "image.caption", waformat.ReasonTooLong},
		{"audio with caption", `{"type":"audio","audio":{"id":"1","caption":"listen"}}`, "audio.caption", waformat.ReasonInvalid},
		{"document with filename", `{"type":"document","document":{"link":"https://x.example/a.pdf","filename":"a.pdf"}}`, "", ""},
		{"sticker without media", `{"type":"sticker","sticker":{}}`, "sticker", waformat.ReasonInvalid},

		// Templates are only checked for a name and a language here.
		{"template", `{"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`, "", ""},
		{"template without language", `{"type":"template","template":{"name":"hello_world","language":{}}}`, "template.language.code", waformat.ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := waformat.ValidateMessage(decode(t, tt.raw))
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireFieldError(t, err, tt.field, tt.reason, "")
		})
	}
	require.Error(t, waformat.ValidateMessage(nil))
}

func TestPreview(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, want string
	}{
		{"text", `{"type":"text","text":{"body":"hola"}}`, "hola"},
		{"image", `{"type":"image","image":{"id":"1","caption":"the receipt"}}`, "[Image] the receipt"},
		{"document", `{"type":"document","document":{"id":"1","filename":"invoice.pdf"}}`, "[Document: invoice.pdf]"},
		{"audio", `{"type":"audio","audio":{"id":"1"}}`, "[Audio]"},
		{"buttons", `{"type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Order A-1"},"body":{"text":"Confirm?"},"footer":{"text":"Shop"},
			"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Yes"}},{"type":"reply","reply":{"id":"n","title":"No"}}]}}}`,
			"Order A-1\n\nConfirm?\n\nShop\n\n[Yes]\n[No]"},
		{"list", `{"type":"interactive","interactive":{"type":"list","body":{"text":"Pick a slot"},"action":{"button":"Slots","sections":[
			{"title":"Monday","rows":[{"id":"m9","title":"9:00","description":"Morning"},{"id":"m14","title":"14:00"}]}]}}}`,
			"Pick a slot\n\n[Slots]\nMonday:\n- 9:00: Morning\n- 14:00"},
		{"cta", `{"type":"interactive","interactive":{"type":"cta_url","header":{"type":"image","image":{"id":"1"}},"body":{"text":"Your invoice"},
			"action":{"name":"cta_url","parameters":{"display_text":"Open","url":"https://x.example/i/1"}}}}`,
			"[Image]\n\nYour invoice\n\n[Open] https://x.example/i/1"},
		{"location", `{"type":"location","location":{"latitude":"37.5","longitude":-122.25,"name":"HQ","address":"1 Hacker Way"}}`, "[Location] HQ 1 Hacker Way (37.5, -122.25)"},
		{"contacts", `{"type":"contacts","contacts":[{"name":{"formatted_name":"Ana Ruiz"},"phones":[{"wa_id":"16505551234"}]},{"name":{"formatted_name":"Bo"}}]}`, "[Contact] Ana Ruiz (+16505551234), Bo"},
		{"reaction", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"❤️"}}`, "[Reaction ❤️]"},
		{"reaction removed", `{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":""}}`, "[Reaction removed]"},
		{"unknown template", `{"type":"template","template":{"name":"promo","language":{"code":"es"}}}`, "[Template promo (es)]"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, waformat.Preview(decode(t, tt.raw), nil), tt.name)
	}
	m := &waformat.Message{Type: waformat.TypeTemplate, Template: shippedSend()}
	require.Equal(t, waformat.Render(orderShipped(), shippedSend()), waformat.Preview(m, orderShipped()))
	require.Empty(t, waformat.Preview(nil, nil))
}
