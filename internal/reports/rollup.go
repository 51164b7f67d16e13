package reports

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// Sizes of the rollup's steps: each step is one short transaction, so a report waiting for the
// rollup waits for one step, not for a rebuild.
const (
	// rollupEvents is how many events of the log one step reads.
	rollupEvents = 5000
	// rollupBatch is how many conversations one step of a rebuild recomputes, and how many one
	// round of reads covers.
	rollupBatch = 1000
	// rollupMargin covers a transaction that began before the rollup last caught up and committed
	// after it: when the events it relies on may be gone, the rebuild reaches back this much more.
	rollupMargin = time.Hour
)

// Rollup keeps the tables reports read (report_episodes, report_message_hours) in step with the
// messages and the history. It follows the event log, which every change a report can see writes
// in its own transaction (a message, a conversation created or changed), and recomputes the
// conversations named there from their whole timeline with Episodes: the rules stay in one
// function, and a stored episode is exactly what reading the timeline would give.
//
// It runs as a periodic job and at the start of every report (CatchUp), so a report sees every
// change committed before it was asked for. The rollup's row in report_rollup is locked by each
// step, so steps of several instances take turns.
type Rollup struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	logger *slog.Logger
	now    func() time.Time
	// batch and events are rollupBatch and rollupEvents (smaller in tests).
	batch, events int
}

// NewRollup returns the rollup of pool's database.
func NewRollup(pool *pgxpool.Pool, logger *slog.Logger) *Rollup {
	return &Rollup{pool: pool, q: db.New(), logger: logger, now: time.Now, batch: rollupBatch, events: rollupEvents}
}

// CatchUp applies every change committed before it was called, one short transaction at a time
// (a rebuild first, when one is due or running). Interrupted, it keeps what it did.
func (r *Rollup) CatchUp(ctx context.Context) error {
	for {
		var done bool
		err := database.InTx(ctx, r.pool, func(tx pgx.Tx) error {
			var err error
			done, err = r.step(ctx, tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("error updating the reports' rollup: %w", err)
		}
		if done {
			return nil
		}
	}
}

// step does one transaction's worth of the rollup and reports whether it has caught up.
//
// The log is followed below its horizon, the oldest transaction still running anywhere in the
// cluster: below it no event can appear any more, so the position never passes one. Events at or
// above it that have committed (a transaction older than them is still running elsewhere, a
// backup for instance) are applied too in the last step, without moving the position: a report
// sees them without waiting for someone else's long transaction, and they are applied again,
// to the same result, once final.
func (r *Rollup) step(ctx context.Context, tx pgx.Tx) (bool, error) {
	st, err := r.q.ReportRollupLock(ctx, tx)
	if err != nil {
		return false, err
	}
	now := r.now()
	switch {
	case !st.AfterXid.Valid:
		// Never built (a new database, or one upgraded with conversations already in it).
		return false, r.startRebuild(ctx, tx, nil, now)
	case st.RebuildAfterID != nil:
		return false, r.rebuildStep(ctx, tx, *st.RebuildAfterID, st.RebuildSince)
	case st.CaughtUpAt != nil && now.Sub(*st.CaughtUpAt) > eventlog.Retention-rollupMargin:
		// Not caught up for longer than the log keeps events: some the rollup needs may be
		// gone. What changed since can be found without them.
		since := st.CaughtUpAt.Add(-rollupMargin)
		r.logger.Warn("the reports' rollup fell behind the event log's retention; rebuilding what changed since", "since", since)
		return false, r.startRebuild(ctx, tx, &since, now)
	}
	h, err := r.q.EventHorizon(ctx, tx)
	if err != nil {
		return false, err
	}
	rows, err := r.q.ReportChangedConversations(ctx, tx, db.ReportChangedConversationsParams{
		AfterXid: st.AfterXid, AfterID: st.AfterID, Horizon: h.Horizon, RowLimit: int32(r.events),
	})
	if err != nil {
		return false, err
	}
	ids := make([]int64, 0, len(rows))
	for _, e := range rows {
		ids = append(ids, e.ConversationID)
	}
	if err := r.recompute(ctx, tx, ids); err != nil {
		return false, err
	}
	if len(rows) == r.events {
		last := rows[len(rows)-1]
		return false, r.q.ReportRollupAdvance(ctx, tx, db.ReportRollupAdvanceParams{AfterXid: last.Xid, AfterID: last.ID, CaughtUpAt: st.CaughtUpAt})
	}
	// Every event below the horizon is applied; any event still to come has a transaction id at
	// or above it, so the position moves to the horizon itself and the next step skips the
	// events it filtered out (status ticks) instead of reading them again.
	after, afterID := st.AfterXid, st.AfterID
	if h.Horizon.Uint64 > after.Uint64 {
		after, afterID = h.Horizon, 0
	} else if len(rows) > 0 {
		last := rows[len(rows)-1]
		after, afterID = last.Xid, last.ID
	}
	if err := r.q.ReportRollupAdvance(ctx, tx, db.ReportRollupAdvanceParams{AfterXid: after, AfterID: afterID, CaughtUpAt: &now}); err != nil {
		return false, err
	}
	recent, err := r.q.ReportRecentConversations(ctx, tx, db.ReportRecentConversationsParams{Horizon: h.Horizon, RowLimit: int32(r.events)})
	if err != nil {
		return false, err
	}
	return true, r.recompute(ctx, tx, recent)
}

// startRebuild begins recomputing every conversation (since nil) or those active since. The
// event log is followed from the current horizon: every change committed below it is read by the
// rebuild, every later one is applied by the steps after it.
func (r *Rollup) startRebuild(ctx context.Context, tx pgx.Tx, since *time.Time, now time.Time) error {
	h, err := r.q.EventHorizon(ctx, tx)
	if err != nil {
		return err
	}
	return r.q.ReportRollupStartRebuild(ctx, tx, db.ReportRollupStartRebuildParams{AfterXid: h.Horizon, AfterID: 0, Since: since, CaughtUpAt: &now})
}

// rebuildStep recomputes the next batch of conversations of a rebuild.
func (r *Rollup) rebuildStep(ctx context.Context, tx pgx.Tx, after int64, since *time.Time) error {
	ids, err := r.q.ReportRebuildConversations(ctx, tx, db.ReportRebuildConversationsParams{AfterID: after, Since: since, BatchSize: int32(r.batch)})
	if err != nil {
		return err
	}
	if err := r.recompute(ctx, tx, ids); err != nil {
		return err
	}
	var next *int64
	if len(ids) == r.batch {
		next = &ids[len(ids)-1]
	} else {
		r.logger.Info("the reports' rollup is rebuilt", "since", since)
	}
	return r.q.ReportRollupRebuilt(ctx, tx, next)
}

// recompute replaces the stored episodes and message counts of the conversations ids (repeats
// allowed) with those their timelines give now.
func (r *Rollup) recompute(ctx context.Context, tx pgx.Tx, ids []int64) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for len(ids) > 0 {
		n := min(len(ids), r.batch)
		if err := r.recomputeBatch(ctx, tx, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (r *Rollup) recomputeBatch(ctx context.Context, tx pgx.Tx, ids []int64) error {
	convs, err := r.q.ReportTimelineConversations(ctx, tx, ids)
	if err != nil {
		return fmt.Errorf("error reading conversations: %w", err)
	}
	msgs, err := r.q.ReportTimelineMessages(ctx, tx, ids)
	if err != nil {
		return fmt.Errorf("error reading messages: %w", err)
	}
	hist, err := r.q.ReportTimelineHistory(ctx, tx, ids)
	if err != nil {
		return fmt.Errorf("error reading history: %w", err)
	}
	items := make(map[int64][]Item, len(convs))
	for _, h := range hist {
		items[h.ConversationID] = append(items[h.ConversationID], HistoryItem(h.CreatedAt, h.ActorID, h.Action, h.Details))
	}
	type hourKey struct {
		conv, agent int64
		hour        time.Time
	}
	hours := map[hourKey]*db.ReportMessageHoursInsertParams{}
	for _, m := range msgs {
		items[m.ConversationID] = append(items[m.ConversationID], Item{At: m.CreatedAt, Message: true, Direction: m.Direction, Sender: m.Sender, UserID: m.SenderUserID})
		k := hourKey{conv: m.ConversationID, agent: writer(m.Sender, m.SenderUserID), hour: m.CreatedAt.UTC().Truncate(time.Hour)}
		row := hours[k]
		if row == nil {
			row = &db.ReportMessageHoursInsertParams{ConversationID: k.conv, Hour: k.hour, AgentID: k.agent}
			hours[k] = row
		}
		if m.Direction == "in" {
			row.MessagesIn++
		} else {
			row.MessagesOut++
		}
	}
	var episodes []db.ReportEpisodesInsertParams
	for _, c := range convs {
		for i, e := range Episodes(c.ID, c.CreatedAt, sortTimeline(items[c.ID])) {
			episodes = append(episodes, episodeRow(&e, int32(i)))
		}
	}
	hourRows := make([]db.ReportMessageHoursInsertParams, 0, len(hours))
	for _, h := range hours {
		hourRows = append(hourRows, *h)
	}
	if err := r.q.ReportEpisodesDelete(ctx, tx, ids); err != nil {
		return fmt.Errorf("error replacing episodes: %w", err)
	}
	if err := r.q.ReportMessageHoursDelete(ctx, tx, ids); err != nil {
		return fmt.Errorf("error replacing message counts: %w", err)
	}
	if _, err := r.q.ReportEpisodesInsert(ctx, tx, episodes); err != nil {
		return fmt.Errorf("error writing episodes: %w", err)
	}
	if _, err := r.q.ReportMessageHoursInsert(ctx, tx, hourRows); err != nil {
		return fmt.Errorf("error writing message counts: %w", err)
	}
	return nil
}

// writer is the agent a message counts for: its author when an agent wrote it, else 0.
func writer(sender string, userID *int64) int64 {
	if sender == "agent" && userID != nil {
		return *userID
	}
	return 0
}

// sortTimeline puts a conversation's items in time order, history rows before messages of the
// same instant (a stable sort keeps each kind's own order): a change and the message it caused
// share their transaction's time.
func sortTimeline(items []Item) []Item {
	sort.SliceStable(items, func(a, b int) bool {
		x, y := items[a], items[b]
		if !x.At.Equal(y.At) {
			return x.At.Before(y.At)
		}
		return !x.Message && y.Message
	})
	return items
}

func episodeRow(e *Episode, seq int32) db.ReportEpisodesInsertParams {
	row := db.ReportEpisodesInsertParams{
		ConversationID: e.ConversationID, Seq: seq, StartedAt: e.Start, Reopened: e.Reopened,
		FirstCustomerAt: e.FirstCustomerAt, FirstResponseAt: e.FirstResponseAt, FirstResponderID: e.FirstResponder,
		ResolvedAt: e.ResolvedAt, ResolvedBy: e.ResolvedBy, SnoozedMs: e.Snoozed.Milliseconds(),
		BotRepliedAt: e.BotRepliedAt, PersonJoinedAt: e.PersonJoinedAt,
		MessagesIn: int32(e.MessagesIn), MessagesOut: int32(e.MessagesOut),
		HandoffAt: make([]time.Time, len(e.Handoffs)), HandoffReasons: make([]string, len(e.Handoffs)),
		SnoozeFrom: make([]time.Time, len(e.Snoozes)), SnoozeTo: make([]time.Time, len(e.Snoozes)),
	}
	for i, h := range e.Handoffs {
		row.HandoffAt[i], row.HandoffReasons[i] = h.At, h.Reason
	}
	for i, sp := range e.Snoozes {
		row.SnoozeFrom[i], row.SnoozeTo[i] = sp.From, sp.To
	}
	return row
}

// storedEpisode reads a row of report_episodes back into the Episode it was written from.
func storedEpisode(r *db.ReportEpisodesRow) Episode {
	e := Episode{
		ConversationID: r.ConversationID, Start: r.StartedAt, Reopened: r.Reopened,
		FirstCustomerAt: r.FirstCustomerAt, FirstResponseAt: r.FirstResponseAt, FirstResponder: r.FirstResponderID,
		ResolvedAt: r.ResolvedAt, ResolvedBy: r.ResolvedBy, Snoozed: time.Duration(r.SnoozedMs) * time.Millisecond,
		BotReplied: r.BotRepliedAt != nil, BotRepliedAt: r.BotRepliedAt,
		PersonJoined: r.PersonJoinedAt != nil, PersonJoinedAt: r.PersonJoinedAt,
		MessagesIn: int(r.MessagesIn), MessagesOut: int(r.MessagesOut),
	}
	for i := range min(len(r.HandoffAt), len(r.HandoffReasons)) {
		e.Handoffs = append(e.Handoffs, Handoff{At: r.HandoffAt[i], Reason: r.HandoffReasons[i]})
	}
	for i := range min(len(r.SnoozeFrom), len(r.SnoozeTo)) {
		e.Snoozes = append(e.Snoozes, Span{From: r.SnoozeFrom[i], To: r.SnoozeTo[i]})
	}
	return e
}
