package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// The composer lock an agent holds on a conversation while writing.

// LockedError is a write to a conversation whose composer lock another agent holds. It is a
// conflict that says who holds the lock and until when (the API answers 409 locked with both).
type LockedError struct {
	ConversationID int64
	LockedBy       int64
	ExpiresAt      time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("conversation %d is locked by user %d until %s", e.ConversationID, e.LockedBy, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Lock is the composer lock of a conversation: who holds it and until when (nil: free).
type Lock struct {
	ConversationID int64      `json:"conversation_id"`
	LockedBy       *int64     `json:"locked_by"`
	ExpiresAt      *time.Time `json:"expires_at"`
}

// AcquireLock takes or renews the caller's lock on a conversation for ttl, in one statement.
// Another agent's live lock answers a *LockedError; an expired one is simply free.
func (s *Service) AcquireLock(ctx context.Context, p *auth.Principal, id int64, ttl time.Duration) (Lock, error) {
	var lock Lock
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.ConversationGet(ctx, tx, id)
		if err != nil {
			return notFound(err, "conversation", id)
		}
		if err := authorize(p, &row.Conversation, true); err != nil {
			return err
		}
		got, err := s.q.ConversationLockAcquire(ctx, tx, db.ConversationLockAcquireParams{ID: id, UserID: &p.UserID, TtlSeconds: ttl.Seconds()})
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err := s.q.ConversationLockGet(ctx, tx, id)
			if err != nil {
				return notFound(err, "conversation", id)
			}
			if !cur.LockLive {
				// Freed between the two statements: the caller may simply try again.
				return apperr.Conflict("conversation %d lock changed hands; retry", id)
			}
			return &LockedError{ConversationID: id, LockedBy: *cur.LockedBy, ExpiresAt: *cur.LockExpiresAt}
		}
		if err != nil {
			return fmt.Errorf("error locking conversation %d: %w", id, err)
		}
		lock = Lock{ConversationID: id, LockedBy: got.LockedBy, ExpiresAt: got.LockExpiresAt}
		return s.events.Append(ctx, tx, eventlog.ConversationLock, id, lock)
	})
	return lock, err
}

// ReleaseLock frees the caller's lock; those who supervise may break another agent's lock.
// Releasing a free lock changes nothing.
func (s *Service) ReleaseLock(ctx context.Context, p *auth.Principal, id int64) error {
	return database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.ConversationGet(ctx, tx, id)
		if err != nil {
			return notFound(err, "conversation", id)
		}
		if err := authorize(p, &row.Conversation, true); err != nil {
			return err
		}
		_, err = s.q.ConversationLockRelease(ctx, tx, db.ConversationLockReleaseParams{ID: id, UserID: &p.UserID})
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err := s.q.ConversationLockGet(ctx, tx, id)
			if err != nil {
				return notFound(err, "conversation", id)
			}
			if !cur.LockLive {
				return nil
			}
			if !auth.CanSupervise(p) {
				return &LockedError{ConversationID: id, LockedBy: *cur.LockedBy, ExpiresAt: *cur.LockExpiresAt}
			}
			if err := s.q.ConversationLockForceRelease(ctx, tx, id); err != nil {
				return fmt.Errorf("error unlocking conversation %d: %w", id, err)
			}
		} else if err != nil {
			return fmt.Errorf("error unlocking conversation %d: %w", id, err)
		}
		return s.events.Append(ctx, tx, eventlog.ConversationLock, id, Lock{ConversationID: id})
	})
}

// GetLock reads a conversation's lock.
func (s *Service) GetLock(ctx context.Context, p *auth.Principal, id int64) (Lock, error) {
	if _, err := s.GetConversation(ctx, p, id); err != nil {
		return Lock{}, err
	}
	cur, err := s.q.ConversationLockGet(ctx, s.pool, id)
	if err != nil {
		return Lock{}, notFound(err, "conversation", id)
	}
	if !cur.LockLive {
		return Lock{ConversationID: id}, nil
	}
	return Lock{ConversationID: id, LockedBy: cur.LockedBy, ExpiresAt: cur.LockExpiresAt}, nil
}
