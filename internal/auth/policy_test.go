package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConversationPolicy(t *testing.T) {
	t.Parallel()
	id := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	const me, other, myGroup, otherGroup = 1, 2, 10, 20
	agent := func(read, write string) *Principal {
		perms := Resolve(RoleAgent, Overrides{ReadChats: s(read), WriteChats: s(write)})
		return &Principal{UserID: me, Role: RoleAgent, Permissions: &perms, GroupIDs: []int64{myGroup}}
	}
	type conv = ConversationRef
	mine := conv{AssigneeID: id(me)}
	others := conv{AssigneeID: id(other)}
	pool := conv{}
	myTeamPool := conv{GroupID: id(myGroup)}
	otherTeamPool := conv{GroupID: id(otherGroup)}
	teammates := conv{AssigneeID: id(other), GroupID: id(myGroup)}
	tests := []struct {
		name        string
		p           *Principal
		c           conv
		read, write bool
	}{
		{"nobody", nil, pool, false, false},
		{"admin others'", &Principal{UserID: me, Role: RoleAdmin}, others, true, true},
		{"supervisor other team", &Principal{UserID: me, Role: RoleSupervisor}, otherTeamPool, true, true},
		{"agent default own", &Principal{UserID: me, Role: RoleAgent}, mine, true, true},
		{"agent default pool", &Principal{UserID: me, Role: RoleAgent}, pool, true, true},
		{"agent default others'", &Principal{UserID: me, Role: RoleAgent}, others, false, false},
		{"assigned: my team's pool", agent("assigned", "assigned"), myTeamPool, true, true},
		{"assigned: other team's pool", agent("assigned", "assigned"), otherTeamPool, false, false},
		{"assigned: teammate's", agent("assigned", "assigned"), teammates, false, false},
		{"group: teammate's", agent("group", "group"), teammates, true, true},
		{"group: other team's pool", agent("group", "group"), otherTeamPool, false, false},
		{"group: others' ungrouped", agent("group", "group"), others, false, false},
		{"read all write assigned: others'", agent("all", "assigned"), others, true, false},
		{"read all write none: own", agent("all", "none"), mine, true, false},
		{"read none: own", agent("none", "all"), mine, false, false},
		{"unknown role", &Principal{UserID: me, Role: "guest"}, pool, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.read, CanReadConversation(tt.p, tt.c), "read")
			require.Equal(t, tt.write, CanWriteConversation(tt.p, tt.c), "write")
		})
	}
}

func TestResolvePermissions(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	all, bad := "all", "everything"
	require.Equal(t, RolePermissions(RoleAgent), Resolve(RoleAgent, Overrides{}))
	p := Resolve(RoleAgent, Overrides{ReadChats: &all, ManageUsers: &yes, UseTags: &no, WriteChats: &bad})
	require.Equal(t, Permissions{ReadChats: "all", WriteChats: "assigned", CanManageUsers: true}, p)
	require.True(t, CanManageUsers(&Principal{Role: RoleAgent, Permissions: &p}))
	require.False(t, CanManageUsers(&Principal{Role: RoleSupervisor}))
	require.True(t, CanManageUsers(&Principal{Role: RoleAdmin}))
	require.True(t, CanSupervise(&Principal{Role: RoleSupervisor}))
	require.False(t, CanSupervise(&Principal{Role: RoleAgent}))
}

func TestSharedResourcePolicy(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	no := false
	readAll := Resolve(RoleAgent, Overrides{ReadChats: s(ScopeAll)})
	readGroup := Resolve(RoleAgent, Overrides{ReadChats: s(ScopeGroup)})
	noTemplates := Resolve(RoleAdmin, Overrides{ManageTemplates: &no})
	supervisorNoTemplates := Resolve(RoleSupervisor, Overrides{ManageTemplates: &no})
	other, otherGroup := int64(2), int64(20)
	for _, tt := range []struct {
		name             string
		p                *Principal
		seesAll, manages bool
	}{
		{"nobody", nil, false, false},
		{"admin", &Principal{Role: RoleAdmin}, true, true},
		{"admin without the override still manages", &Principal{Role: RoleAdmin, Permissions: &noTemplates}, true, true},
		{"supervisor", &Principal{Role: RoleSupervisor}, true, true},
		{"supervisor without templates", &Principal{Role: RoleSupervisor, Permissions: &supervisorNoTemplates}, true, false},
		{"agent", &Principal{Role: RoleAgent}, false, false},
		{"agent reading all", &Principal{Role: RoleAgent, Permissions: &readAll}, true, false},
		{"agent reading its groups", &Principal{Role: RoleAgent, Permissions: &readGroup}, false, false},
		{"unknown role", &Principal{Role: "guest"}, false, false},
	} {
		require.Equal(t, tt.seesAll, SeesAllConversations(tt.p), "%s: sees all", tt.name)
		require.Equal(t, tt.manages, CanManageTemplates(tt.p), "%s: manages templates", tt.name)
		// Seeing all is reading another agent's conversation in a group one is not in.
		require.Equal(t, tt.seesAll, CanReadConversation(tt.p, ConversationRef{AssigneeID: &other, GroupID: &otherGroup}), tt.name)
	}
}

// Reports are read by admins and supervisors; exporting them, with customers' numbers, is an
// admin's unless granted; agents get either only by an override.
func TestReportPermissions(t *testing.T) {
	t.Parallel()
	yes := true
	require.True(t, RolePermissions(RoleAdmin).CanViewReports)
	require.True(t, RolePermissions(RoleAdmin).CanExportData)
	require.True(t, RolePermissions(RoleSupervisor).CanViewReports)
	require.False(t, RolePermissions(RoleSupervisor).CanExportData)
	require.False(t, RolePermissions(RoleAgent).CanViewReports)
	require.False(t, RolePermissions(RoleAgent).CanExportData)
	p := Resolve(RoleAgent, Overrides{ViewReports: &yes, ExportData: &yes})
	require.True(t, p.CanViewReports)
	require.True(t, p.CanExportData)
}
