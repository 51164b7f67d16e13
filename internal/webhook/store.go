package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/inbox"
)

// QueueWebhooks is the River queue of process_webhook jobs. It has its own workers, so a burst of
// webhooks never delays an agent's send, and sends never delay intake processing.
const QueueWebhooks = "webhooks"

// ProcessMaxAttempts is how often process_webhook is tried. Once we answered 200, Meta will not
// send the payload again, so wainbox retries about as long as Meta would have: with the retry
// policy's five-minute ceiling, 2016 attempts last seven days. A job out of attempts stays in River
// UI as a dead letter, and its payload stays in webhook_events.
const ProcessMaxAttempts = 2016

// ProcessWebhookArgs is the process_webhook job: apply one stored webhook.
type ProcessWebhookArgs struct {
	EventID int64 `json:"webhook_event_id"`
	// Batchable: the webhook holds statuses only (StatusesOnly), so another job's batch is likely
	// to have applied it by the time this job runs, and the job first looks whether it has.
	Batchable bool `json:"batchable,omitempty"`
}

// Kind is the River job kind.
func (ProcessWebhookArgs) Kind() string { return "process_webhook" }

// InsertOpts puts every process_webhook job on QueueWebhooks with ProcessMaxAttempts, whoever
// inserts it.
func (ProcessWebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: ProcessMaxAttempts}
}

// Stored is the outcome of Store.
type Stored struct {
	// EventID is the new webhook_events row; 0 for a duplicate.
	EventID int64
	// Duplicate: the very same bytes were stored before, and nothing was written.
	Duplicate bool
}

// Store is the intake transaction: it records a verified webhook body (with its sha256) and its
// process_webhook job in one transaction, or nothing at all. The same bytes stored before are
// recorded once: Store then writes nothing, queues no second job and reports Duplicate. It does no
// parsing beyond StatusesOnly's scan of the bytes. The HTTP handler calls it after checking the signature; benchmarks call it directly to
// measure the transaction without HTTP.
func Store(ctx context.Context, b database.Beginner, queue inbox.Queue, body []byte) (Stored, error) {
	sum := sha256.Sum256(body)
	var st Stored
	err := database.InTx(ctx, b, func(tx pgx.Tx) error {
		batchable := StatusesOnly(body)
		id, err := db.New().WebhookEventInsert(ctx, tx, db.WebhookEventInsertParams{
			Sha256: sum[:], Body: body, Batchable: batchable,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			st.Duplicate = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("error storing webhook: %w", err)
		}
		if _, err := queue.InsertTx(ctx, tx, ProcessWebhookArgs{EventID: id, Batchable: batchable}, nil); err != nil {
			return fmt.Errorf("error queueing webhook %d: %w", id, err)
		}
		st.EventID = id
		return nil
	})
	if err != nil {
		return Stored{}, err
	}
	return st, nil
}

// StatusesOnly reports whether body looks like it holds statuses and no customer's message: a
// "statuses" key and no "messages" key whose value is an array ("field":"messages" is a string).
// Such a webhook may be applied in another job's batch (docs/delivery.md). It is a scan of the
// bytes, not a parse, and it needs only be right in practice: a webhook it misjudges is still
// applied exactly as any other, alone or in its own job's batch.
func StatusesOnly(body []byte) bool {
	if !bytes.Contains(body, keyStatuses) {
		return false
	}
	for rest := body; ; {
		i := bytes.Index(rest, keyMessages)
		if i < 0 {
			return true
		}
		rest = rest[i+len(keyMessages):]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) > 0 && v[0] == ':' && bytes.HasPrefix(bytes.TrimLeft(v[1:], " \t\r\n"), []byte("[")) {
			return false
		}
	}
}

var (
	keyStatuses = []byte(`"statuses"`)
	keyMessages = []byte(`"messages"`)
)
