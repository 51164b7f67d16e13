package inbox

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// A conversation's tags.

// NormalizeTag trims and lower-cases a tag and checks its length.
func NormalizeTag(tag string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(tag))
	if t == "" || utf8.RuneCountInString(t) > 50 {
		return "", &apperr.FieldError{Field: "tag", Message: "must be 1 to 50 characters"}
	}
	return t, nil
}

// SetTag adds (on) or removes a tag of a conversation and answers its tags.
func (s *Service) SetTag(ctx context.Context, p *auth.Principal, id int64, tag string, on bool) ([]string, error) {
	if p == nil {
		return nil, errNoCaller
	}
	tag, err := NormalizeTag(tag)
	if err != nil {
		return nil, err
	}
	if !p.Perms().CanUseTags {
		return nil, apperr.Forbidden("you may not use tags")
	}
	var tags []string
	err = database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.forWrite(ctx, tx, p, id); err != nil {
			return err
		}
		if on {
			err = s.q.ConversationTagAdd(ctx, tx, db.ConversationTagAddParams{ConversationID: id, Tag: tag, CreatedBy: &p.UserID})
		} else {
			_, err = s.q.ConversationTagRemove(ctx, tx, db.ConversationTagRemoveParams{ConversationID: id, Tag: tag})
		}
		if err != nil {
			return fmt.Errorf("error tagging conversation %d: %w", id, err)
		}
		if tags, err = s.q.ConversationTagList(ctx, tx, id); err != nil {
			return fmt.Errorf("error listing tags of conversation %d: %w", id, err)
		}
		return s.events.Append(ctx, tx, eventlog.ConversationTags, id, map[string]any{"conversation_id": id, "tags": tags, "actor_id": p.UserID})
	})
	return tags, err
}

// Tags lists a conversation's tags.
func (s *Service) Tags(ctx context.Context, p *auth.Principal, id int64) ([]string, error) {
	if _, err := s.GetConversation(ctx, p, id); err != nil {
		return nil, err
	}
	tags, err := s.q.ConversationTagList(ctx, s.pool, id)
	if err != nil {
		return nil, fmt.Errorf("error listing tags of conversation %d: %w", id, err)
	}
	return tags, nil
}
