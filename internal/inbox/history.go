package inbox

import (
	"context"
	"fmt"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// A conversation's history of status and assignment changes.

// History lists a conversation's status and assignment changes, newest first.
func (s *Service) History(ctx context.Context, p *auth.Principal, id int64, limit int) ([]db.ConversationHistory, error) {
	if _, err := s.GetConversation(ctx, p, id); err != nil {
		return nil, err
	}
	h, err := s.q.HistoryList(ctx, s.pool, db.HistoryListParams{ConversationID: id, RowLimit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("error listing history of conversation %d: %w", id, err)
	}
	return h, nil
}
