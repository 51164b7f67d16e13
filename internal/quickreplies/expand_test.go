package quickreplies_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/quickreplies"
	"github.com/wainbox/wainbox/internal/waformat"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	v := quickreplies.VarsFor(7, &db.Contact{WaID: "5511999990000", ProfileName: " Ana Souza "}, &db.User{Name: "Alice Li", Email: "alice@example.com"})
	require.Equal(t, quickreplies.Vars{ContactName: "Ana Souza", ContactPhone: "+5511999990000", AgentName: "Alice Li", AgentEmail: "alice@example.com", ConversationID: 7}, v)
	unknown := quickreplies.VarsFor(0, &db.Contact{WaID: "5511999990000"}, nil)
	for _, tt := range []struct {
		body string
		v    quickreplies.Vars
		want string
	}{
		{"no variables", v, "no variables"},
		{"Hi {{contact.name}}!", v, "Hi Ana Souza!"},
		{"Hi {{ contact.first_name }}, {{agent.first_name}} here", v, "Hi Ana, Alice here"},
		{"{{CONTACT.PHONE}} {{agent.email}} #{{conversation.id}} {{agent.name}}", v, "+5511999990000 alice@example.com #7 Alice Li"},
		// Unknown names and what is not a variable stay as written.
		{"{{contact.email}} {{1}} {{}} {{ {{contact.first_name}} }} {contact.name}", v, "{{contact.email}} {{1}} {{}} {{ Ana }} {contact.name}"},
		// A missing value is empty, or the fallback written after |.
		{"Hi {{contact.name}}!", unknown, "Hi !"},
		{"Hi {{contact.name | there}}!", unknown, "Hi there!"},
		{"Hi {{contact.name|querido cliente}}!", unknown, "Hi querido cliente!"},
		{"Hi {{contact.name | there}}!", v, "Hi Ana Souza!"},
		{"#{{conversation.id|new}} {{agent.name}}", unknown, "#new "},
		{"{{nope | fallback}}", v, "{{nope | fallback}}"},
	} {
		require.Equal(t, tt.want, quickreplies.Expand(tt.body, tt.v), tt.body)
	}
	require.Len(t, quickreplies.Variables, 7)
	for _, name := range quickreplies.Variables {
		require.NotEqual(t, "{{"+name+"}}", quickreplies.Expand("{{"+name+"}}", v), name)
	}
}

func TestExpandMessageLeavesTheOriginal(t *testing.T) {
	t.Parallel()
	m := &waformat.Message{Type: waformat.TypeTemplate, Template: &waformat.TemplateSend{Name: "t", Language: waformat.TemplateLanguage{Code: "en"},
		Components: []waformat.SendComponent{{Type: "body", Parameters: []waformat.Parameter{{Type: "text", Text: "{{contact.name}}"}}}}}}
	got := quickreplies.ExpandMessage(m, quickreplies.Vars{ContactName: "Ana"})
	require.Equal(t, "Ana", got.Template.Components[0].Parameters[0].Text)
	require.Equal(t, "{{contact.name}}", m.Template.Components[0].Parameters[0].Text)
	require.Nil(t, quickreplies.ExpandMessage(nil, quickreplies.Vars{}))
}
