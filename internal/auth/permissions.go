package auth

// CanSeeConversation reports whether p may see a conversation whose assignee is assigneeID (nil
// when nobody is assigned) and that belongs to no group. It delegates to CanReadConversation in
// policy.go, the one rule the REST API and the real-time hub both decide through; callers that
// know the conversation's group call that directly.
func CanSeeConversation(p *Principal, assigneeID *int64) bool {
	return CanReadConversation(p, ConversationRef{AssigneeID: assigneeID})
}
