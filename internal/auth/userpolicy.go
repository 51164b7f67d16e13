package auth

import (
	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
)

// userChange is a change to one user as the administration rules see it.
type userChange struct {
	// before is the user as it is, read under its row lock; nil for a user being created.
	before *db.User
	// after is the user as the change leaves it (role and permission overrides).
	after db.User
	// password says the change sets the user's password.
	password bool
}

// userPerms are a user row's effective permissions.
func userPerms(u *db.User) Permissions {
	return Resolve(u.Role, Overrides{
		ReadChats: u.CanReadChats, WriteChats: u.CanWriteChats, ManageTemplates: u.CanManageTemplates,
		ManageUsers: u.CanManageUsers, ViewMetrics: u.CanViewMetrics, UseTags: u.CanUseTags,
		ViewReports: u.CanViewReports, ExportData: u.CanExportData,
	})
}

// mayManage refuses at once, before anything is validated or read, a caller whose session does
// not allow managing users and groups, so that they learn nothing from the answer (not even
// whether a user exists). It is the first step of every administration use case; the decision
// that counts is authorizeActor's, in the transaction of the change, on the actor's row as it is
// then.
func mayManage(actor *Principal) error {
	if actor == nil {
		return errNoActor
	}
	if !CanManageUsers(actor) {
		return apperr.Forbidden("managing users and groups needs can_manage_users")
	}
	return nil
}

// authorizeActor decides whether actor, read under its row lock in the transaction of a change,
// may administer users and groups at all: enabled and holding can_manage_users as they are now,
// not as their access token or a cached session says.
func authorizeActor(actor *db.User) error {
	if actor.DisabledAt != nil {
		return apperr.Forbidden("your account is disabled")
	}
	if !userPerms(actor).CanManageUsers {
		return apperr.Forbidden("managing users and groups needs can_manage_users")
	}
	return nil
}

// authorizeUserChange decides whether actor may make change. Both rows are read under their row
// locks in the transaction that writes the change, so what is decided is what is overwritten.
// Admins may make any change. Anyone else managing users may not escalate, neither their own
// rights nor through another account they could then use: they do not touch admins, make admins
// or grant can_manage_users; they raise no permission of a user above what they hold
// themselves; and they do not set the password of a user holding a permission they lack (they
// could log in as that user).
func authorizeUserChange(actor *db.User, c userChange) error {
	if err := authorizeActor(actor); err != nil {
		return err
	}
	if actor.Role == RoleAdmin {
		return nil
	}
	if c.before != nil && c.before.Role == RoleAdmin {
		return apperr.Forbidden("only admins change admins")
	}
	if c.after.Role == RoleAdmin {
		return apperr.Forbidden("only admins make admins")
	}
	var (
		before       Permissions // a new user holds nothing yet
		beforeManage *bool
	)
	if c.before != nil {
		before, beforeManage = userPerms(c.before), c.before.CanManageUsers
	}
	after := userPerms(&c.after)
	if !sameBool(beforeManage, c.after.CanManageUsers) || (after.CanManageUsers && !before.CanManageUsers) {
		return apperr.Forbidden("only admins grant can_manage_users")
	}
	held := userPerms(actor)
	if name := raised(before, after, held); name != "" {
		return apperr.Forbidden("you may not grant %s beyond what you hold yourself", name)
	}
	if c.password && c.before != nil {
		if name := raised(Permissions{}, before, held); name != "" {
			return apperr.Forbidden("only admins set the password of a user whose %s exceeds yours", name)
		}
	}
	return nil
}

// raised names the first permission that after raises above before and above held, or is empty.
func raised(before, after, held Permissions) string {
	scopes := []struct {
		name              string
		before, after, to string
	}{
		{"can_read_chats", before.ReadChats, after.ReadChats, held.ReadChats},
		{"can_write_chats", before.WriteChats, after.WriteChats, held.WriteChats},
	}
	for _, s := range scopes {
		if scopeRank(s.after) > scopeRank(s.before) && scopeRank(s.after) > scopeRank(s.to) {
			return s.name
		}
	}
	flags := []struct {
		name              string
		before, after, to bool
	}{
		{"can_manage_templates", before.CanManageTemplates, after.CanManageTemplates, held.CanManageTemplates},
		{"can_manage_users", before.CanManageUsers, after.CanManageUsers, held.CanManageUsers},
		{"can_view_metrics", before.CanViewMetrics, after.CanViewMetrics, held.CanViewMetrics},
		{"can_use_tags", before.CanUseTags, after.CanUseTags, held.CanUseTags},
		{"can_view_reports", before.CanViewReports, after.CanViewReports, held.CanViewReports},
		{"can_export_data", before.CanExportData, after.CanExportData, held.CanExportData},
	}
	for _, f := range flags {
		if f.after && !f.before && !f.to {
			return f.name
		}
	}
	return ""
}

// scopeRank orders chat scopes by what they reach: each reaches all that the ones below it do.
func scopeRank(scope string) int {
	switch scope {
	case ScopeAll:
		return 3
	case ScopeGroup:
		return 2
	case ScopeAssigned:
		return 1
	default:
		return 0
	}
}

func sameBool(a, b *bool) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
