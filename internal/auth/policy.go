package auth

import "slices"

// Scopes of can_read_chats and can_write_chats: which conversations a user reads or writes.
const (
	ScopeAll      = "all"      // every conversation
	ScopeGroup    = "group"    // the user's own, its groups' (whoever is assigned) and the free pool
	ScopeAssigned = "assigned" // the user's own and the free pool
	ScopeNone     = "none"     // none
)

// ValidScope reports whether s is one of the four scopes.
func ValidScope(s string) bool {
	return s == ScopeAll || s == ScopeGroup || s == ScopeAssigned || s == ScopeNone
}

// Permissions are what a user may do: the defaults of their role with their own overrides applied.
type Permissions struct {
	ReadChats          string `json:"can_read_chats"`
	WriteChats         string `json:"can_write_chats"`
	CanManageTemplates bool   `json:"can_manage_templates"`
	CanManageUsers     bool   `json:"can_manage_users"`
	CanViewMetrics     bool   `json:"can_view_metrics"`
	CanUseTags         bool   `json:"can_use_tags"`
	// CanViewReports reads the team's reports; CanExportData downloads them as CSV.
	CanViewReports bool `json:"can_view_reports"`
	CanExportData  bool `json:"can_export_data"`
}

// RolePermissions are a role's defaults: admins may do everything; supervisors read and write
// every conversation, manage templates, watch metrics and read reports (exporting them, with the
// customers' numbers, is granted by an admin); agents work their own conversations and the free
// pool, and tag them.
func RolePermissions(role string) Permissions {
	switch role {
	case RoleAdmin:
		return Permissions{ScopeAll, ScopeAll, true, true, true, true, true, true}
	case RoleSupervisor:
		return Permissions{ScopeAll, ScopeAll, true, false, true, true, true, false}
	case RoleAgent:
		return Permissions{ScopeAssigned, ScopeAssigned, false, false, false, true, false, false}
	default:
		return Permissions{ReadChats: ScopeNone, WriteChats: ScopeNone}
	}
}

// Overrides are a user's explicit permissions; nil fields take the role's default.
type Overrides struct {
	ReadChats, WriteChats                              *string
	ManageTemplates, ManageUsers, ViewMetrics, UseTags *bool
	ViewReports, ExportData                            *bool
}

// Resolve applies o to the defaults of role.
func Resolve(role string, o Overrides) Permissions {
	p := RolePermissions(role)
	if !ValidRole(role) {
		return p
	}
	if o.ReadChats != nil && ValidScope(*o.ReadChats) {
		p.ReadChats = *o.ReadChats
	}
	if o.WriteChats != nil && ValidScope(*o.WriteChats) {
		p.WriteChats = *o.WriteChats
	}
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.CanManageTemplates, o.ManageTemplates)
	set(&p.CanManageUsers, o.ManageUsers)
	set(&p.CanViewMetrics, o.ViewMetrics)
	set(&p.CanUseTags, o.UseTags)
	set(&p.CanViewReports, o.ViewReports)
	set(&p.CanExportData, o.ExportData)
	return p
}

// Perms returns the principal's permissions: those loaded with its session, or its role's
// defaults when it was built from a token alone.
func (p *Principal) Perms() Permissions {
	if p.Permissions != nil {
		return *p.Permissions
	}
	return RolePermissions(p.Role)
}

// ConversationRef is what permissions look at in a conversation.
type ConversationRef struct {
	AssigneeID *int64
	GroupID    *int64
}

// inScope is the one rule of conversation visibility; ConversationSearch in
// queries/conversation_team.sql is the same rule in SQL, and a test keeps the two in step.
func inScope(scope string, p *Principal, c ConversationRef) bool {
	mine := c.AssigneeID != nil && *c.AssigneeID == p.UserID
	inMyGroup := c.GroupID != nil && slices.Contains(p.GroupIDs, *c.GroupID)
	// The free pool: nobody's yet, and not another team's.
	pool := c.AssigneeID == nil && (c.GroupID == nil || inMyGroup)
	switch scope {
	case ScopeAll:
		return true
	case ScopeGroup:
		return mine || pool || inMyGroup
	case ScopeAssigned:
		return mine || pool
	default:
		return false
	}
}

// CanReadConversation reports whether p may see conversation c: read it over REST and receive its
// events on the WebSocket. Both call this function.
func CanReadConversation(p *Principal, c ConversationRef) bool {
	if p == nil || !ValidRole(p.Role) {
		return false
	}
	return inScope(p.Perms().ReadChats, p, c)
}

// CanWriteConversation reports whether p may act on c: send, take over, assign, lock, tag, note,
// change its status. Writing needs reading too.
func CanWriteConversation(p *Principal, c ConversationRef) bool {
	return CanReadConversation(p, c) && inScope(p.Perms().WriteChats, p, c)
}

// CanManageUsers reports whether p may administer users and groups.
func CanManageUsers(p *Principal) bool {
	return p != nil && ValidRole(p.Role) && (p.Role == RoleAdmin || p.Perms().CanManageUsers)
}

// CanSupervise reports whether p may act on conversations for others: assign them to anyone,
// release another agent's conversation, break another agent's lock. Those who write every
// conversation may.
func CanSupervise(p *Principal) bool {
	return p != nil && ValidRole(p.Role) && p.Perms().WriteChats == ScopeAll
}

// SeesAllConversations reports whether p reads every conversation, whatever its assignee or group
// (can_read_chats = all: admins and supervisors by default). Things shared by groups follow it:
// whoever sees every group's conversations sees every group's quick replies too.
func SeesAllConversations(p *Principal) bool {
	return p != nil && ValidRole(p.Role) && p.Perms().ReadChats == ScopeAll
}

// CanManageTemplates reports whether p may manage what the team sends on its behalf: message
// templates and the quick replies shared with a group or the whole team. Admins always may.
func CanManageTemplates(p *Principal) bool {
	return p != nil && ValidRole(p.Role) && (p.Role == RoleAdmin || p.Perms().CanManageTemplates)
}
