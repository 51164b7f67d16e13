package quickreplies

import (
	"slices"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
)

// Who sees and who changes a quick reply. The use cases decide with these functions in their
// transaction, on the row read under its lock when they change it; QuickReplyVisible in
// queries/quick_replies.sql is visible in SQL, and a test keeps the two in step.
//
//   - Personal ones are their owner's alone: to anyone else, admins included, they do not exist
//     (not found, never forbidden, so an id reveals nothing). The owner changes them.
//   - A group's are seen by the group's members and by whoever sees every group's conversations
//     (auth.SeesAllConversations: can_read_chats = all, admins and supervisors by default).
//   - The team's are seen by everyone who reads chats (can_read_chats other than none). A user who
//     reads no chats answers nobody and sees only their personal ones.
//   - Group and team ones are changed by managers: users with can_manage_templates
//     (auth.CanManageTemplates; admins always, supervisors by default), since they are what the
//     team sends on the business's behalf, as templates are. A manager changes a group's only if
//     they see it, and adds one only to a scope they see. Those who see one but may not change it are refused (forbidden).

func validPrincipal(p *auth.Principal) bool {
	return p != nil && auth.ValidRole(p.Role)
}

// readsChats reports whether p sees shared quick replies at all.
func readsChats(p *auth.Principal) bool {
	return validPrincipal(p) && p.Perms().ReadChats != auth.ScopeNone
}

// seesGroup reports whether p sees the quick replies of group id.
func seesGroup(p *auth.Principal, id int64) bool {
	return readsChats(p) && (auth.SeesAllConversations(p) || slices.Contains(p.GroupIDs, id))
}

// visible reports whether p sees q.
func visible(p *auth.Principal, q *db.QuickReply) bool {
	switch {
	case !validPrincipal(p):
		return false
	case q.OwnerID != nil:
		return *q.OwnerID == p.UserID
	case q.GroupID != nil:
		return seesGroup(p, *q.GroupID)
	default:
		return readsChats(p)
	}
}

// editable reports whether p may change or delete q.
func editable(p *auth.Principal, q *db.QuickReply) bool {
	return visible(p, q) && (q.OwnerID != nil || auth.CanManageTemplates(p))
}

// authorizeChange answers a quick reply p does not see as not found, and one p sees but may not
// change as forbidden.
func authorizeChange(p *auth.Principal, q *db.QuickReply) error {
	if !visible(p, q) {
		return apperr.NotFound("quick reply", q.ID)
	}
	if !editable(p, q) {
		return apperr.Forbidden("changing %s quick replies needs can_manage_templates", scopeOf(q))
	}
	return nil
}

// authorizeCreate decides whether p may add a quick reply to scope (and group).
func authorizeCreate(p *auth.Principal, scope Scope, groupID *int64) error {
	switch {
	case !validPrincipal(p):
		return apperr.Forbidden("you may not keep quick replies")
	case scope == ScopePersonal:
		return nil
	case !auth.CanManageTemplates(p):
		return apperr.Forbidden("%s quick replies are made by users with can_manage_templates", scope)
	case scope == ScopeTeam && !readsChats(p):
		return apperr.Forbidden("you read no chats, so you may keep only personal quick replies")
	case scope == ScopeGroup && !seesGroup(p, *groupID):
		return apperr.Forbidden("you may add quick replies only to your own groups")
	}
	return nil
}
