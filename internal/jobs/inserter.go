package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/internal/database"
)

// Inserter queues River jobs, announcing them to River's producers after the commit instead of
// inside the transaction.
//
// River's InsertTx sends its new-job NOTIFY (at most once per queue per FetchCooldown) inside the
// caller's transaction. PostgreSQL holds a cluster-wide lock from the commit of a notifying
// transaction until it returns, WAL flush included, so the sends and webhook intakes that carried
// the NOTIFY queued their commits behind one another: pg_stat_activity showed them waiting on
// that lock for 5 ms and more under load. And a job committed in the FetchCooldown after a
// notification was announced by nobody: it waited for the next poll.
//
// In a transaction of database.InTx, the Inserter inserts through an insert-only client whose
// driver declines LISTEN/NOTIFY (so River sends nothing in the transaction) and, once the
// transaction has committed, has the instance's doorbell send River's own new-job notification
// for the queue ("<schema>.river_insert", {"queue": ...}: River's producers on every instance
// LISTEN for it and fetch at once). In any other transaction it falls back to River's InsertTx.
type Inserter struct {
	quiet   *river.Client[pgx.Tx]
	loud    *river.Client[pgx.Tx]
	notify  Notifier
	channel string
}

// Notifier sends a NOTIFY after the fact; *eventlog.Doorbell is one.
type Notifier interface {
	Notify(channel, payload string)
}

// NewInserter returns an Inserter beside client, the instance's River client, whose insert
// settings (workers, MaxAttempts, logger) cfg must repeat. schema is the schema River's tables
// and notification channels live in (River's Config.Schema, or the connection's current schema
// when that is empty).
func NewInserter(driver *riverpgxv5.Driver, cfg *river.Config, client *river.Client[pgx.Tx], notify Notifier, schema string) (*Inserter, error) {
	quietCfg := &river.Config{
		Logger:      cfg.Logger,
		Workers:     cfg.Workers,
		MaxAttempts: cfg.MaxAttempts,
		Schema:      cfg.Schema,
	}
	quiet, err := river.NewClient[pgx.Tx](quietDriver{driver}, quietCfg)
	if err != nil {
		return nil, fmt.Errorf("error creating River's insert-only client: %w", err)
	}
	channel := "river_insert"
	if schema != "" {
		channel = schema + "." + channel
	}
	return &Inserter{quiet: quiet, loud: client, notify: notify, channel: channel}, nil
}

// InsertTx inserts a job in tx (see Inserter).
func (q *Inserter) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	announce := func() {}
	if !database.AfterCommit(tx, func() { announce() }) {
		return q.loud.InsertTx(ctx, tx, args, opts)
	}
	res, err := q.quiet.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, err
	}
	// Jobs scheduled for later are River's scheduler's to announce when they become available.
	if res.Job.State == rivertype.JobStateAvailable {
		payload, err := json.Marshal(insertPayload{Queue: res.Job.Queue})
		if err != nil {
			return nil, err
		}
		announce = func() { q.notify.Notify(q.channel, string(payload)) }
	}
	return res, nil
}

// insertPayload is the payload of River's new-job notification.
type insertPayload struct {
	Queue string `json:"queue"`
}

// quietDriver is River's pgx driver declining LISTEN/NOTIFY, so that River's inserts through it
// send no NOTIFY. Only the Inserter's insert-only client uses it; that client never starts, so
// it listens to nothing either.
type quietDriver struct {
	*riverpgxv5.Driver
}

func (quietDriver) SupportsListenNotify() bool { return false }
