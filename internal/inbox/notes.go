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

// Private notes on a conversation, never sent to WhatsApp.

// MaxNoteLength bounds a private note.
const MaxNoteLength = 10000

// AddNote stores a private note: it is for the team only and is never sent to WhatsApp (notes are
// not messages and no send job is queued for them).
func (s *Service) AddNote(ctx context.Context, p *auth.Principal, id int64, body string) (db.Note, error) {
	if strings.TrimSpace(body) == "" {
		return db.Note{}, &apperr.FieldError{Field: "body", Message: "must not be empty"}
	}
	if !utf8.ValidString(body) || utf8.RuneCountInString(body) > MaxNoteLength {
		return db.Note{}, &apperr.FieldError{Field: "body", Message: fmt.Sprintf("must be valid UTF-8 of at most %d characters", MaxNoteLength)}
	}
	var note db.Note
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.forWrite(ctx, tx, p, id); err != nil {
			return err
		}
		var err error
		note, err = s.q.NoteInsert(ctx, tx, db.NoteInsertParams{ConversationID: id, AuthorID: p.UserID, Body: body})
		if err != nil {
			return fmt.Errorf("error storing note: %w", err)
		}
		return s.events.Append(ctx, tx, eventlog.NoteCreated, id, map[string]any{
			"note_id": note.ID, "conversation_id": id, "author_id": p.UserID, "preview": preview(body, 100),
		})
	})
	return note, err
}

// Notes lists a conversation's notes, newest first.
func (s *Service) Notes(ctx context.Context, p *auth.Principal, id int64, limit int) ([]db.Note, error) {
	if _, err := s.GetConversation(ctx, p, id); err != nil {
		return nil, err
	}
	notes, err := s.q.NoteList(ctx, s.pool, db.NoteListParams{ConversationID: id, RowLimit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("error listing notes of conversation %d: %w", id, err)
	}
	return notes, nil
}
