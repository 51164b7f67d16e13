package auth

// CanSeeConversation reports whether p may see a conversation whose assignee is assigneeID (nil
// when nobody is assigned). Admins and supervisors see every conversation; an agent sees the
// conversations assigned to it and the unassigned ones, which it may pick up. The REST API and the
// real-time hub both decide through this function, so a refinement here applies to both.
func CanSeeConversation(p *Principal, assigneeID *int64) bool {
	if p == nil {
		return false
	}
	switch p.Role {
	case RoleAdmin, RoleSupervisor:
		return true
	case RoleAgent:
		return assigneeID == nil || *assigneeID == p.UserID
	default:
		return false
	}
}
