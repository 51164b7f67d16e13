package auth

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
)

func TestAuthorizeUserChange(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	b := func(v bool) *bool { return &v }
	user := func(role string, edit func(*db.User)) db.User {
		u := db.User{ID: 9, Role: role}
		if edit != nil {
			edit(&u)
		}
		return u
	}
	admin := user(RoleAdmin, nil)
	// A manager who is an agent: it holds the agent's defaults and can_manage_users.
	manager := user(RoleAgent, func(u *db.User) { u.CanManageUsers = b(true) })
	supervisorManager := user(RoleSupervisor, func(u *db.User) { u.CanManageUsers = b(true) })
	agent := user(RoleAgent, nil)
	supervisor := user(RoleSupervisor, nil)
	otherAdmin := user(RoleAdmin, nil)
	change := func(before db.User, edit func(*db.User)) userChange {
		after := before
		if edit != nil {
			edit(&after)
		}
		return userChange{before: &before, after: after}
	}

	tests := []struct {
		name   string
		actor  db.User
		change userChange
		ok     bool
	}{
		{"admin changes an admin", admin, change(otherAdmin, func(u *db.User) { u.Role = RoleAgent }), true},
		{"admin makes an admin", admin, change(agent, func(u *db.User) { u.Role = RoleAdmin }), true},
		{"manager renames an agent", manager, change(agent, func(u *db.User) { u.Name = "x" }), true},
		{"manager lowers an agent's scope", manager, change(agent, func(u *db.User) { u.CanReadChats = s(ScopeNone) }), true},
		{"manager renames a supervisor", manager, change(supervisor, func(u *db.User) { u.Name = "x" }), true},
		{"manager touches an admin", manager, change(otherAdmin, nil), false},
		{"manager renames an admin", manager, change(otherAdmin, func(u *db.User) { u.Name = "x" }), false},
		{"manager makes an admin", manager, change(agent, func(u *db.User) { u.Role = RoleAdmin }), false},
		{"manager grants can_manage_users", manager, change(agent, func(u *db.User) { u.CanManageUsers = b(true) }), false},
		{"manager sets can_manage_users false", manager, change(agent, func(u *db.User) { u.CanManageUsers = b(false) }), false},
		{"manager grants reading all", manager, change(agent, func(u *db.User) { u.CanReadChats = s(ScopeAll) }), false},
		{"manager grants reading groups", manager, change(agent, func(u *db.User) { u.CanReadChats = s(ScopeGroup) }), false},
		{"manager grants metrics", manager, change(agent, func(u *db.User) { u.CanViewMetrics = b(true) }), false},
		{"manager makes a supervisor", manager, change(agent, func(u *db.User) { u.Role = RoleSupervisor }), false},
		{"manager raises itself", manager, change(manager, func(u *db.User) { u.CanWriteChats = s(ScopeAll) }), false},
		{"supervisor manager makes a supervisor", supervisorManager, change(agent, func(u *db.User) { u.Role = RoleSupervisor }), true},
		{"manager creates an agent", manager, userChange{after: agent}, true},
		{"manager creates a supervisor", manager, userChange{after: supervisor}, false},
		{"manager sets an agent's password", manager, userChange{before: &agent, after: agent, password: true}, true},
		{"manager sets a supervisor's password", manager, userChange{before: &supervisor, after: supervisor, password: true}, false},
		{"supervisor manager sets a supervisor's password", supervisorManager, userChange{before: &supervisor, after: supervisor, password: true}, true},
		{"agent without can_manage_users", agent, change(agent, nil), false},
		{"disabled admin", user(RoleAdmin, func(u *db.User) { u.DisabledAt = &u.CreatedAt }), change(agent, nil), false},
	}
	for _, tc := range tests {
		err := authorizeUserChange(&tc.actor, tc.change)
		if tc.ok {
			require.NoError(t, err, tc.name)
		} else {
			var fe *apperr.ForbiddenError
			require.ErrorAs(t, err, &fe, tc.name)
		}
	}
}
