package quickreplies_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/quickreplies"
	"github.com/wainbox/wainbox/internal/waformat"
)

// team is a small team: two groups and people with different permissions.
type team struct {
	t      *testing.T
	pool   *pgxpool.Pool
	qr     *quickreplies.Service
	g1, g2 int64
	// alice and bob are agents of g1 and g2; carol an agent of g1 with can_manage_templates;
	// reader an agent reading every chat; nobody an agent of g1 reading none; sup and admin are
	// in no group.
	alice, bob, carol, reader, nobody, sup, admin *auth.Principal
}

func newTeam(t *testing.T) *team {
	t.Helper()
	pool, _ := dbtest.New(t)
	tm := &team{t: t, pool: pool, qr: quickreplies.New(pool)}
	ctx := context.Background()
	for _, g := range []*int64{&tm.g1, &tm.g2} {
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO groups (name) VALUES ($1) RETURNING id`,
			fmt.Sprintf("group %p", g)).Scan(g))
	}
	yes := true
	all, none := auth.ScopeAll, auth.ScopeNone
	user := func(name, role string, o auth.Overrides, groups ...int64) *auth.Principal {
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $1, $2, 'x') RETURNING id`,
			name+"@example.com", role).Scan(&id))
		perms := auth.Resolve(role, o)
		return &auth.Principal{UserID: id, Role: role, Permissions: &perms, GroupIDs: groups}
	}
	tm.alice = user("alice", auth.RoleAgent, auth.Overrides{}, tm.g1)
	tm.bob = user("bob", auth.RoleAgent, auth.Overrides{}, tm.g2)
	tm.carol = user("carol", auth.RoleAgent, auth.Overrides{ManageTemplates: &yes}, tm.g1)
	tm.reader = user("reader", auth.RoleAgent, auth.Overrides{ReadChats: &all})
	tm.nobody = user("nobody", auth.RoleAgent, auth.Overrides{ReadChats: &none}, tm.g1)
	tm.sup = user("sup", auth.RoleSupervisor, auth.Overrides{})
	tm.admin = user("admin", auth.RoleAdmin, auth.Overrides{})
	return tm
}

func (tm *team) everyone() map[string]*auth.Principal {
	return map[string]*auth.Principal{"alice": tm.alice, "bob": tm.bob, "carol": tm.carol, "reader": tm.reader,
		"nobody": tm.nobody, "sup": tm.sup, "admin": tm.admin}
}

func (tm *team) create(p *auth.Principal, in quickreplies.Input) quickreplies.QuickReply {
	tm.t.Helper()
	q, err := tm.qr.Create(context.Background(), p, in)
	require.NoError(tm.t, err)
	return q
}

// requireAccess checks who sees q (Get) and who may change it (Update), by name; everyone else
// gets not found.
func (tm *team) requireAccess(q quickreplies.QuickReply, editors, viewers []string) {
	tm.t.Helper()
	ctx := context.Background()
	for name, p := range tm.everyone() {
		got, err := tm.qr.Get(ctx, p, q.ID)
		_, uerr := tm.qr.Update(ctx, p, q.ID, quickreplies.Patch{Shortcut: &q.Shortcut})
		switch {
		case slices.Contains(editors, name):
			require.NoError(tm.t, err, name)
			require.True(tm.t, got.Editable, "%s may edit", name)
			require.NoError(tm.t, uerr, name)
		case slices.Contains(viewers, name):
			require.NoError(tm.t, err, name)
			require.False(tm.t, got.Editable, "%s may not edit", name)
			require.ErrorAs(tm.t, uerr, new(*apperr.ForbiddenError), name)
			require.ErrorAs(tm.t, tm.qr.Delete(ctx, p, q.ID), new(*apperr.ForbiddenError), name)
		default:
			require.ErrorAs(tm.t, err, new(*apperr.NotFoundError), name)
			require.ErrorAs(tm.t, uerr, new(*apperr.NotFoundError), name)
			require.ErrorAs(tm.t, tm.qr.Delete(ctx, p, q.ID), new(*apperr.NotFoundError), name)
			_, err = tm.qr.Use(ctx, p, q.ID, quickreplies.Vars{})
			require.ErrorAs(tm.t, err, new(*apperr.NotFoundError), name)
		}
	}
}

func TestPersonalQuickRepliesArePrivate(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	q := tm.create(tm.alice, quickreplies.Input{Shortcut: "thanks", Body: "Thank you!"})
	require.Equal(t, quickreplies.ScopePersonal, q.Scope, "personal is the default")
	require.Equal(t, tm.alice.UserID, *q.OwnerID)
	// Admins and supervisors included: to anyone but the owner it does not exist.
	tm.requireAccess(q, []string{"alice"}, nil)
	// Even a user who reads no chats keeps their own.
	tm.requireAccess(tm.create(tm.nobody, quickreplies.Input{Shortcut: "mine", Body: "x"}), []string{"nobody"}, nil)

	require.NoError(t, tm.qr.Delete(context.Background(), tm.alice, q.ID))
	_, err := tm.qr.Get(context.Background(), tm.alice, q.ID)
	require.ErrorAs(t, err, new(*apperr.NotFoundError))
}

func TestGroupQuickRepliesAreTheGroupsAndManagersChangeThem(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	q := tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g1, Shortcut: "refund", Body: "Refunds take 5 days."})
	require.Equal(t, quickreplies.ScopeGroup, q.Scope)
	// Members see it (nobody reads no chats); those who see every group see it too; managers
	// (can_manage_templates) change it.
	tm.requireAccess(q, []string{"carol", "sup", "admin"}, []string{"alice", "reader"})

	// A manager adds to their own groups only; agents to none.
	tm.create(tm.carol, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g1, Shortcut: "carols", Body: "x"})
	_, err := tm.qr.Create(ctx, tm.carol, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g2, Shortcut: "x", Body: "x"})
	require.ErrorAs(t, err, new(*apperr.ForbiddenError))
	_, err = tm.qr.Create(ctx, tm.alice, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g1, Shortcut: "x", Body: "x"})
	require.ErrorAs(t, err, new(*apperr.ForbiddenError))
	missing := tm.g2 + 1000
	_, err = tm.qr.Create(ctx, tm.admin, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &missing, Shortcut: "x", Body: "x"})
	requireField(t, err, "group_id")
}

func TestTeamQuickRepliesAreEveryonesWhoReadsChats(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	q := tm.create(tm.sup, quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: "hours", Body: "We open 9 to 5."})
	require.Equal(t, quickreplies.ScopeTeam, q.Scope)
	require.Nil(t, q.OwnerID)
	require.Nil(t, q.GroupID)
	tm.requireAccess(q, []string{"carol", "sup", "admin"}, []string{"alice", "bob", "reader"})

	for _, p := range []*auth.Principal{tm.alice, tm.reader, tm.nobody} {
		_, err := tm.qr.Create(context.Background(), p, quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: "x", Body: "x"})
		require.ErrorAs(t, err, new(*apperr.ForbiddenError))
	}
}

func TestShortcutsAreUniquePerScopeCaseInsensitively(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	team := quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: "Hello", Body: "Hello!"}
	tm.create(tm.admin, team)
	team.Shortcut = "hELLO"
	_, err := tm.qr.Create(ctx, tm.sup, team)
	require.ErrorAs(t, err, new(*apperr.ConflictError))

	// The same shortcut in another scope is another quick reply: each group, each person.
	g1 := tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g1, Shortcut: "hello", Body: "g1"})
	tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g2, Shortcut: "hello", Body: "g2"})
	_, err = tm.qr.Create(ctx, tm.carol, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g1, Shortcut: "HELLO", Body: "again"})
	require.ErrorAs(t, err, new(*apperr.ConflictError))
	tm.create(tm.alice, quickreplies.Input{Shortcut: "hello", Body: "alice"})
	bobs := tm.create(tm.bob, quickreplies.Input{Shortcut: "hello", Body: "bob"})
	_, err = tm.qr.Create(ctx, tm.bob, quickreplies.Input{Shortcut: "Hello", Body: "bob again"})
	require.ErrorAs(t, err, new(*apperr.ConflictError))

	// Renaming onto a taken shortcut conflicts too; onto its own (another case) does not.
	other := tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &tm.g1, Shortcut: "bye", Body: "Bye"})
	taken := "Hello"
	_, err = tm.qr.Update(ctx, tm.carol, other.ID, quickreplies.Patch{Shortcut: &taken})
	require.ErrorAs(t, err, new(*apperr.ConflictError))
	upper := "HELLO"
	got, err := tm.qr.Update(ctx, tm.carol, g1.ID, quickreplies.Patch{Shortcut: &upper})
	require.NoError(t, err)
	require.Equal(t, "HELLO", got.Shortcut)
	require.Equal(t, "g1", got.Body, "a patch keeps what it does not name")
	_, err = tm.qr.Update(ctx, tm.bob, bobs.ID, quickreplies.Patch{Shortcut: &upper})
	require.NoError(t, err)
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var ie *apperr.FieldError
	require.True(t, errors.As(err, &ie), "want an input error on %s, got %v", field, err)
	require.Equal(t, field, ie.Field, "%v", err)
}

func TestValidation(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	interactive := func(body string) *waformat.Message {
		return &waformat.Message{Type: waformat.TypeInteractive, Interactive: &waformat.Interactive{
			Type: waformat.InteractiveButton, Body: &waformat.InteractiveText{Text: body},
			Action: &waformat.Action{Buttons: []waformat.ReplyButton{{Type: "reply", Reply: waformat.Reply{ID: "yes", Title: "Yes"}}}},
		}}
	}
	g := tm.g1
	for _, tt := range []struct {
		name  string
		in    quickreplies.Input
		field string
	}{
		{"empty shortcut", quickreplies.Input{Body: "x"}, "shortcut"},
		{"space in shortcut", quickreplies.Input{Shortcut: "two words", Body: "x"}, "shortcut"},
		{"slash in shortcut", quickreplies.Input{Shortcut: "/hi", Body: "x"}, "shortcut"},
		{"long shortcut", quickreplies.Input{Shortcut: strings.Repeat("a", 33), Body: "x"}, "shortcut"},
		{"no body, no message", quickreplies.Input{Shortcut: "a"}, "body"},
		{"blank body", quickreplies.Input{Shortcut: "a", Body: " \n"}, "body"},
		{"long body", quickreplies.Input{Shortcut: "a", Body: strings.Repeat("é", 4097)}, "body"},
		{"NUL in body", quickreplies.Input{Shortcut: "a", Body: "a\x00b"}, "body"},
		{"unknown scope", quickreplies.Input{Scope: "everyone", Shortcut: "a", Body: "x"}, "scope"},
		{"group without group_id", quickreplies.Input{Scope: quickreplies.ScopeGroup, Shortcut: "a", Body: "x"}, "group_id"},
		{"team with group_id", quickreplies.Input{Scope: quickreplies.ScopeTeam, GroupID: &g, Shortcut: "a", Body: "x"}, "group_id"},
		{"text message", quickreplies.Input{Shortcut: "a", Message: &waformat.Message{Type: "text", Text: &waformat.Text{Body: "x"}}}, "message.type"},
		{"message with a recipient", quickreplies.Input{Shortcut: "a", Message: func() *waformat.Message {
			m := interactive("x")
			m.To = "15550001111"
			return m
		}()}, "message.to"},
		{"interactive without body", quickreplies.Input{Shortcut: "a", Message: interactive("")}, "message.interactive.body.text"},
		{"template without language", quickreplies.Input{Shortcut: "a", Message: &waformat.Message{Type: waformat.TypeTemplate,
			Template: &waformat.TemplateSend{Name: "order_update"}}}, "message.template.language.code"},
	} {
		_, err := tm.qr.Create(ctx, tm.admin, tt.in)
		requireField(t, err, tt.field)
	}

	// The limits are inclusive; a message needs no body; a template is checked for its shape only.
	tm.create(tm.admin, quickreplies.Input{Shortcut: strings.Repeat("ñ", 32), Body: strings.Repeat("é", 4096)})
	tm.create(tm.admin, quickreplies.Input{Shortcut: "Olá_2-b", Message: interactive("Choose")})
	q := tm.create(tm.admin, quickreplies.Input{Shortcut: "tmpl", Body: "order update (template)", Message: &waformat.Message{
		Type: waformat.TypeTemplate, Template: &waformat.TemplateSend{Name: "no_such_template", Language: waformat.TemplateLanguage{Code: "en"}}}})
	require.Equal(t, "no_such_template", q.Message.Template.Name)

	// A patch is checked too, and removing the message of a quick reply without a body is refused.
	m := tm.create(tm.admin, quickreplies.Input{Shortcut: "menu", Message: interactive("Choose")})
	_, err := tm.qr.Update(ctx, tm.admin, m.ID, quickreplies.Patch{SetMessage: true})
	requireField(t, err, "body")
	bad := "bad shortcut"
	_, err = tm.qr.Update(ctx, tm.admin, m.ID, quickreplies.Patch{Shortcut: &bad})
	requireField(t, err, "shortcut")
	body := "Our menu"
	got, err := tm.qr.Update(ctx, tm.admin, m.ID, quickreplies.Patch{Body: &body, SetMessage: true})
	require.NoError(t, err)
	require.Nil(t, got.Message)
	require.Equal(t, "Our menu", got.Body)

	_, err = tm.qr.Search(ctx, tm.admin, quickreplies.Filter{Scope: "mine"}, nil, 10)
	requireField(t, err, "scope")
	_, err = tm.qr.Search(ctx, tm.admin, quickreplies.Filter{Prefix: strings.Repeat("a", 33)}, nil, 10)
	requireField(t, err, "prefix")
}

func shortcuts(qs []quickreplies.QuickReply) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Shortcut
	}
	return out
}

// Search is visible in SQL: for every caller it lists exactly what Get lets them see.
func TestSearchListsWhatGetShows(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	var ids []int64
	add := func(p *auth.Principal, in quickreplies.Input) {
		ids = append(ids, tm.create(p, in).ID)
	}
	for _, p := range []*auth.Principal{tm.alice, tm.bob, tm.carol, tm.nobody, tm.sup} {
		add(p, quickreplies.Input{Shortcut: "mine", Body: "x"})
	}
	add(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: "team", Body: "x"})
	for _, g := range []int64{tm.g1, tm.g2} {
		add(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeGroup, GroupID: &g, Shortcut: "group", Body: "x"})
	}
	for name, p := range tm.everyone() {
		var want []int64
		for _, id := range ids {
			if _, err := tm.qr.Get(ctx, p, id); err == nil {
				want = append(want, id)
			} else {
				require.ErrorAs(t, err, new(*apperr.NotFoundError))
			}
		}
		got, err := tm.qr.Search(ctx, p, quickreplies.Filter{}, nil, 100)
		require.NoError(t, err)
		gotIDs := make([]int64, len(got))
		for i, q := range got {
			gotIDs[i] = q.ID
		}
		require.ElementsMatch(t, want, gotIDs, name)
	}
	got, err := tm.qr.Search(ctx, tm.alice, quickreplies.Filter{}, nil, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"group", "mine", "team"}, shortcuts(got))
	got, err = tm.qr.Search(ctx, tm.sup, quickreplies.Filter{Scope: quickreplies.ScopeGroup}, nil, 100)
	require.NoError(t, err)
	require.Len(t, got, 2, "supervisors see every group's")
	got, err = tm.qr.Search(ctx, tm.nobody, quickreplies.Filter{}, nil, 100)
	require.NoError(t, err)
	require.Equal(t, []string{"mine"}, shortcuts(got), "who reads no chats has only their own")
}

func TestSearchByPrefixPaginates(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	for _, s := range []string{"greet", "Greeting", "GREAT", "bye", "a_b", "axb", "gr-2"} {
		tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: s, Body: s})
	}
	tm.create(tm.alice, quickreplies.Input{Shortcut: "grr", Body: "mine"})
	search := func(p *auth.Principal, f quickreplies.Filter) []string {
		got, err := tm.qr.Search(ctx, p, f, nil, 100)
		require.NoError(t, err)
		return shortcuts(got)
	}
	require.Equal(t, []string{"gr-2", "GREAT", "greet", "Greeting", "grr"}, search(tm.alice, quickreplies.Filter{Prefix: "gR"}))
	require.Equal(t, []string{"gr-2", "GREAT", "greet", "Greeting"}, search(tm.bob, quickreplies.Filter{Prefix: "/gr"}), "a leading / is the panel's trigger")
	require.Equal(t, []string{"grr"}, search(tm.alice, quickreplies.Filter{Prefix: "gr", Scope: quickreplies.ScopePersonal}))
	require.Equal(t, []string{"a_b"}, search(tm.alice, quickreplies.Filter{Prefix: "a_"}), "_ is literal")
	require.Empty(t, search(tm.alice, quickreplies.Filter{Prefix: "%"}), "% is literal")
	require.Empty(t, search(tm.alice, quickreplies.Filter{Prefix: "zz"}))

	// Pages of 2 by the last row's shortcut and id walk the whole list once.
	var all []string
	var after *quickreplies.Cursor
	for {
		page, err := tm.qr.Search(ctx, tm.alice, quickreplies.Filter{}, after, 2)
		require.NoError(t, err)
		all = append(all, shortcuts(page)...)
		if len(page) < 2 {
			break
		}
		last := page[len(page)-1]
		after = &quickreplies.Cursor{Shortcut: last.Shortcut, ID: last.ID}
	}
	require.Equal(t, search(tm.alice, quickreplies.Filter{}), all)
	require.Len(t, all, 8)
}

func TestUseExpandsTheBodyAndTheMessage(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	text := tm.create(tm.alice, quickreplies.Input{Shortcut: "hi", Body: "Hi {{contact.first_name | there}}, I'm {{agent.name}} ({{ticket.id}})."})
	menu := &waformat.Message{Type: waformat.TypeInteractive, Interactive: &waformat.Interactive{
		Type:   waformat.InteractiveButton,
		Header: &waformat.InteractiveHeader{Type: "text", Text: "For {{contact.name}}"},
		Body:   &waformat.InteractiveText{Text: "Conversation {{conversation.id}}: pick one"},
		Footer: &waformat.InteractiveText{Text: "{{agent.email}}"},
		Action: &waformat.Action{Buttons: []waformat.ReplyButton{{Type: "reply", Reply: waformat.Reply{ID: "{{contact.name}}", Title: "{{contact.name}}"}}}},
	}}
	msg := tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: "menu", Message: menu})
	tmpl := tm.create(tm.admin, quickreplies.Input{Scope: quickreplies.ScopeTeam, Shortcut: "order", Message: &waformat.Message{
		Type: waformat.TypeTemplate, Template: &waformat.TemplateSend{Name: "order", Language: waformat.TemplateLanguage{Code: "en"},
			Components: []waformat.SendComponent{{Type: "body", Parameters: []waformat.Parameter{
				{Type: "text", Text: "{{contact.name|customer}}"}, {Type: "text", Text: "{{agent.first_name}}"}}}}}}})

	vars := quickreplies.Vars{ContactName: "Ana Souza", ContactPhone: "+5511999990000", AgentName: "Alice Li", AgentEmail: "alice@example.com", ConversationID: 42}
	got, err := tm.qr.Use(ctx, tm.alice, text.ID, vars)
	require.NoError(t, err)
	require.Equal(t, "Hi Ana, I'm Alice Li ({{ticket.id}}).", got.Text)
	require.Nil(t, got.Message)
	got, err = tm.qr.Use(ctx, tm.alice, text.ID, quickreplies.Vars{AgentName: "Alice Li"})
	require.NoError(t, err)
	require.Equal(t, "Hi there, I'm Alice Li ({{ticket.id}}).", got.Text, "the fallback of an unknown name")

	got, err = tm.qr.Use(ctx, tm.bob, msg.ID, vars)
	require.NoError(t, err)
	require.Equal(t, "For Ana Souza", got.Message.Interactive.Header.Text)
	require.Equal(t, "Conversation 42: pick one", got.Message.Interactive.Body.Text)
	require.Equal(t, "alice@example.com", got.Message.Interactive.Footer.Text)
	require.Equal(t, "{{contact.name}}", got.Message.Interactive.Action.Buttons[0].Reply.Title, "buttons stay as written")
	require.NoError(t, waformat.ValidateMessage(got.Message))

	got, err = tm.qr.Use(ctx, tm.bob, tmpl.ID, quickreplies.Vars{AgentName: "Bob"})
	require.NoError(t, err)
	params := got.Message.Template.Components[0].Parameters
	require.Equal(t, "customer", params[0].Text)
	require.Equal(t, "Bob", params[1].Text)

	_, err = tm.qr.Use(ctx, tm.bob, text.ID, vars)
	require.ErrorAs(t, err, new(*apperr.NotFoundError), "another agent's personal one")
}
