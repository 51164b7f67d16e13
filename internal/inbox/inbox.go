// Package inbox is the domain of wainbox: contacts, conversations and messages, and the rules that
// keep them whole. Every write here is one transaction that also writes its realtime events and
// the River jobs that follow from it (the transactional outbox), so what is accepted is stored.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/media"
)

// Queue inserts River jobs inside a transaction; *river.Client[pgx.Tx] is one.
type Queue interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Config holds the Service's dependencies.
type Config struct {
	Pool  *pgxpool.Pool
	Queue Queue
	// Events is the event log the use cases append to (nil: events are written but nobody is rung).
	Events *eventlog.Log
	Logger *slog.Logger
	// SendMaxAttempts bounds the attempts of one send_message job (default 10).
	SendMaxAttempts int
	// BotEnabled makes the bot answer first: conversations that customers open start in status
	// bot, and each of their messages there queues a bot_reply job (see ReceiveTx). wainbox enables
	// it when Gemini is configured (GEMINI_API_KEY, or the simulator's fake Gemini).
	BotEnabled bool
	// BusinessAccountID is the WhatsApp Business Account whose templates sends are checked against.
	BusinessAccountID string
	// Media keeps the bytes of files (customers' media and agents' uploads); nil: media messages
	// are recorded and queued for fetching, but nothing can be uploaded or read.
	Media media.Store
	// Now is the clock of the rules that depend on time (the customer-service window); nil is
	// time.Now. Tests set it to cross a window's end without waiting a day.
	Now func() time.Time
}

// Service runs the inbox's use cases.
type Service struct {
	pool            *pgxpool.Pool
	queue           Queue
	events          *eventlog.Log
	logger          *slog.Logger
	sendMaxAttempts int
	botEnabled      bool
	wabaID          string
	now             func() time.Time
	media           media.Store
	q               *db.Queries
}

// New validates cfg and returns a Service.
func New(cfg *Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Queue == nil {
		return nil, errors.New("inbox: Pool and Queue are required")
	}
	s := &Service{
		pool:            cfg.Pool,
		queue:           cfg.Queue,
		events:          cfg.Events,
		logger:          cfg.Logger,
		sendMaxAttempts: cfg.SendMaxAttempts,
		botEnabled:      cfg.BotEnabled,
		wabaID:          cfg.BusinessAccountID,
		now:             cfg.Now,
		media:           cfg.Media,
		q:               db.New(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.sendMaxAttempts <= 0 {
		s.sendMaxAttempts = 10
	}
	return s, nil
}

// notFound translates pgx.ErrNoRows into an *apperr.NotFoundError at the data boundary.
func notFound(err error, what string, id int64) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound(what, id)
	}
	return fmt.Errorf("error loading %s %d: %w", what, id, err)
}
