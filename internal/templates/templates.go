// Package templates keeps wainbox's copy of the WhatsApp Business Account's message templates:
// Meta approves them, wainbox reads them (a periodic sync of every page, an on-demand sync, and
// message_template_status_update webhooks in between) so that a template send is checked against
// the template before it is stored, and managers create and delete them at Meta from wainbox.
//
// Meta is the source of truth: a sync overwrites the copy and removes what Meta no longer has;
// creating and deleting call Meta first and change the copy only once Meta has answered.
package templates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/waformat"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// Graph is the part of Meta's Graph API this package calls; *whatsapp.Client is one.
type Graph interface {
	ListTemplates(ctx context.Context, wabaID, after string, limit int) (*whatsapp.TemplatePage, error)
	CreateTemplate(ctx context.Context, wabaID string, t *waformat.Template) (*whatsapp.CreatedTemplate, error)
	DeleteTemplate(ctx context.Context, wabaID, name string) error
}

// pageSize is how many templates one sync request asks for (Meta's largest page is 100 or more;
// a business account rarely has more than a few hundred templates).
const pageSize = 100

// maxPages bounds one sync, so a paging loop at Meta cannot keep a worker forever.
const maxPages = 100

// Queue inserts River jobs inside a transaction; the instance's inserter is one.
type Queue interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// SyncArgs is the sync_templates job: copy every template from Meta (Sync). The leader queues one
// every SyncInterval, and a status webhook for a template not stored here queues one at once.
type SyncArgs struct{}

// Kind is the River job kind.
func (SyncArgs) Kind() string { return "sync_templates" }

// InsertOpts keeps one sync queued or running at a time.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable,
		rivertype.JobStateScheduled,
	}}}
}

// SyncInterval is how often the templates are copied from Meta. Status webhooks keep them current
// in between; the sync catches templates created or deleted in Meta's dashboard.
const SyncInterval = time.Hour

// Config holds the Service's dependencies.
type Config struct {
	Pool  *pgxpool.Pool
	Graph Graph
	// WABAID is WHATSAPP_BUSINESS_ACCOUNT_ID; without it there are no templates to sync, create or
	// delete, and those calls answer a conflict that says so.
	WABAID string
	// Queue, when set, receives a sync job when a status webhook names an unknown template.
	Queue  Queue
	Logger *slog.Logger
}

// Service reads, syncs, creates and deletes templates.
type Service struct {
	pool   *pgxpool.Pool
	graph  Graph
	waba   string
	queue  Queue
	logger *slog.Logger
	q      *db.Queries
}

// New validates cfg and returns a Service.
func New(cfg *Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Graph == nil {
		return nil, errors.New("templates: Pool and Graph are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: cfg.Pool, graph: cfg.Graph, waba: cfg.WABAID, queue: cfg.Queue, logger: logger, q: db.New()}, nil
}

// SyncResult says what a sync did.
type SyncResult struct {
	Seen    int `json:"seen"`
	Deleted int `json:"deleted"`
	Pages   int `json:"pages"`
}

// Sync copies every template of the business account from Meta: each page is stored as it is
// read, and once the last page is in, the templates Meta no longer has are deleted. A sync that
// fails half way keeps what it stored and deletes nothing, so a copy is never emptied by an outage.
func (s *Service) Sync(ctx context.Context) (SyncResult, error) {
	var res SyncResult
	if err := s.configured(); err != nil {
		return res, err
	}
	started := time.Now()
	after := ""
	for {
		if res.Pages == maxPages {
			return res, fmt.Errorf("error syncing templates: more than %d pages", maxPages)
		}
		page, err := s.graph.ListTemplates(ctx, s.waba, after, pageSize)
		if err != nil {
			return res, err
		}
		res.Pages++
		for i := range page.Data {
			if _, err := s.store(ctx, s.pool, &page.Data[i], started); err != nil {
				return res, err
			}
			res.Seen++
		}
		if page.Paging.Next == "" || page.Paging.Cursors.After == "" || len(page.Data) == 0 {
			break
		}
		after = page.Paging.Cursors.After
	}
	n, err := s.q.TemplateDeleteUnseen(ctx, s.pool, db.TemplateDeleteUnseenParams{WabaID: s.waba, SyncedAt: started})
	if err != nil {
		return res, fmt.Errorf("error removing templates deleted at Meta: %w", err)
	}
	res.Deleted = int(n)
	s.logger.InfoContext(ctx, "message templates synced", "seen", res.Seen, "deleted", res.Deleted, "pages", res.Pages)
	return res, nil
}

// SyncFor is Sync asked for by a person, who must manage templates (the periodic job calls Sync).
func (s *Service) SyncFor(ctx context.Context, p *auth.Principal) (SyncResult, error) {
	if err := canManage(p); err != nil {
		return SyncResult{}, err
	}
	return s.Sync(ctx)
}

func (s *Service) store(ctx context.Context, dbtx db.DBTX, t *waformat.Template, seen time.Time) (db.MessageTemplate, error) {
	components, err := json.Marshal(t.Components)
	if err != nil {
		return db.MessageTemplate{}, fmt.Errorf("error encoding template %s: %w", t.Name, err)
	}
	format := string(t.ParameterFormat)
	if format == "" {
		format = string(waformat.ParameterFormatPositional)
	}
	row, err := s.q.TemplateUpsert(ctx, dbtx, db.TemplateUpsertParams{
		WabaID: s.waba, MetaID: t.ID, Name: t.Name, Language: t.Language, Category: string(t.Category),
		Status: string(t.Status), ParameterFormat: format, Components: components,
		RejectedReason: t.RejectedReason, SyncedAt: seen,
	})
	if err != nil {
		return db.MessageTemplate{}, fmt.Errorf("error storing template %s (%s): %w", t.Name, t.Language, err)
	}
	return row, nil
}

// Filter narrows List: each empty field matches everything.
type Filter struct {
	Status     string
	Language   string
	NamePrefix string
	Limit      int
}

// List returns the stored templates that match f, by name and language. Every user who may
// write to conversations may read templates: they are what an agent sends outside the window.
func (s *Service) List(ctx context.Context, p *auth.Principal, f Filter) ([]db.MessageTemplate, error) {
	if err := canRead(p); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	rows, err := s.q.TemplateList(ctx, s.pool, db.TemplateListParams{
		WabaID: s.waba, Status: f.Status, Language: f.Language, NamePrefix: f.NamePrefix, RowLimit: int32(f.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("error listing templates: %w", err)
	}
	return rows, nil
}

// Get returns one stored template.
func (s *Service) Get(ctx context.Context, p *auth.Principal, id int64) (db.MessageTemplate, error) {
	if err := canRead(p); err != nil {
		return db.MessageTemplate{}, err
	}
	row, err := s.q.TemplateGet(ctx, s.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.MessageTemplate{}, apperr.NotFound("template", id)
	}
	if err != nil {
		return db.MessageTemplate{}, fmt.Errorf("error loading template %d: %w", id, err)
	}
	return row, nil
}

// errNoAccount answers template calls of an instance without a business account id.
var errNoAccount = apperr.Conflict("message templates need WHATSAPP_BUSINESS_ACCOUNT_ID, which is not configured")

func (s *Service) configured() error {
	if s.waba == "" {
		return errNoAccount
	}
	return nil
}

func canRead(p *auth.Principal) error {
	if p == nil || p.Perms().ReadChats == auth.ScopeNone {
		return apperr.Forbidden("reading templates needs access to conversations")
	}
	return nil
}

func canManage(p *auth.Principal) error {
	if !auth.CanManageTemplates(p) {
		return apperr.Forbidden("managing templates needs can_manage_templates")
	}
	return nil
}

// Create validates t as Meta does, submits it to Meta and stores it with the status Meta gave
// (PENDING while Meta reviews it; the status webhook brings the verdict). A template Meta refuses
// is not stored; Meta's error comes back as it is.
func (s *Service) Create(ctx context.Context, p *auth.Principal, t *waformat.Template) (db.MessageTemplate, error) {
	if err := canManage(p); err != nil {
		return db.MessageTemplate{}, err
	}
	if err := s.configured(); err != nil {
		return db.MessageTemplate{}, err
	}
	t.Normalize()
	if err := t.Validate(); err != nil {
		return db.MessageTemplate{}, FieldError(err, "")
	}
	if _, err := s.q.TemplateGetByName(ctx, s.pool, db.TemplateGetByNameParams{WabaID: s.waba, Name: t.Name, Language: t.Language}); err == nil {
		return db.MessageTemplate{}, apperr.Conflict("template %s already exists in %s", t.Name, t.Language)
	}
	created, err := s.graph.CreateTemplate(ctx, s.waba, t)
	if err != nil {
		return db.MessageTemplate{}, err
	}
	stored := *t
	stored.ID, stored.Status = created.ID, waformat.Status(created.Status)
	if created.Category != "" {
		stored.Category = waformat.Category(created.Category)
	}
	if stored.Status == "" {
		stored.Status = waformat.StatusPending
	}
	return s.store(ctx, s.pool, &stored, time.Now())
}

// Delete deletes the template of id at Meta, with every language of its name (Meta deletes by
// name), then removes them here.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id int64) error {
	if err := canManage(p); err != nil {
		return err
	}
	row, err := s.Get(ctx, p, id)
	if err != nil {
		return err
	}
	if err := s.graph.DeleteTemplate(ctx, s.waba, row.Name); err != nil {
		return err
	}
	if _, err := s.q.TemplateDeleteByName(ctx, s.pool, db.TemplateDeleteByNameParams{WabaID: s.waba, Name: row.Name}); err != nil {
		return fmt.Errorf("error removing template %s: %w", row.Name, err)
	}
	return nil
}

// StatusUpdate is a message_template_status_update webhook: Meta's verdict on a template, or a
// later change (paused for low quality, disabled, reinstated).
type StatusUpdate struct {
	MetaID   string
	Name     string
	Language string
	Event    string // APPROVED, REJECTED, PAUSED, DISABLED, …
	Reason   string
}

// ApplyStatusTx applies u in tx. It reports false when the template is not known here (created in
// Meta's dashboard since the last sync), and then queues a sync in tx.
func (s *Service) ApplyStatusTx(ctx context.Context, tx pgx.Tx, u *StatusUpdate) (bool, error) {
	reason := u.Reason
	if reason == "NONE" {
		reason = ""
	}
	_, err := s.q.TemplateSetStatus(ctx, tx, db.TemplateSetStatusParams{MetaID: u.MetaID, Status: u.Event, RejectedReason: reason})
	if errors.Is(err, pgx.ErrNoRows) {
		if s.queue != nil {
			if _, err := s.queue.InsertTx(ctx, tx, SyncArgs{}, nil); err != nil {
				return false, fmt.Errorf("error queueing a template sync: %w", err)
			}
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("error applying status %s to template %s: %w", u.Event, u.MetaID, err)
	}
	return true, nil
}

// Lookup loads the template a send names, in dbtx (the send's transaction). It answers a field
// error naming the template or its language when there is none, so the API can say which is wrong.
func Lookup(ctx context.Context, dbtx db.DBTX, wabaID, name, language string) (*waformat.Template, error) {
	q := db.New()
	row, err := q.TemplateGetByName(ctx, dbtx, db.TemplateGetByNameParams{WabaID: wabaID, Name: name, Language: language})
	if errors.Is(err, pgx.ErrNoRows) {
		others, err := q.TemplateNamed(ctx, dbtx, db.TemplateNamedParams{WabaID: wabaID, Name: name})
		if err != nil {
			return nil, fmt.Errorf("error loading template %s: %w", name, err)
		}
		if len(others) == 0 {
			return nil, &apperr.FieldError{Field: "template.name", Message: fmt.Sprintf("%q is not a template of this business account (sync templates if it was just created)", name)}
		}
		langs := make([]string, len(others))
		for i := range others {
			langs[i] = others[i].Language
		}
		return nil, &apperr.FieldError{Field: "template.language.code", Message: fmt.Sprintf("template %q has no %q translation; it has %v", name, language, langs)}
	}
	if err != nil {
		return nil, fmt.Errorf("error loading template %s (%s): %w", name, language, err)
	}
	return Template(&row)
}

// Template turns a stored row into Meta's shape.
func Template(row *db.MessageTemplate) (*waformat.Template, error) {
	t := &waformat.Template{
		ID: row.MetaID, Name: row.Name, Language: row.Language, Status: waformat.Status(row.Status),
		Category: waformat.Category(row.Category), ParameterFormat: waformat.ParameterFormat(row.ParameterFormat),
		RejectedReason: row.RejectedReason,
	}
	if err := json.Unmarshal(row.Components, &t.Components); err != nil {
		return nil, fmt.Errorf("error decoding stored template %d: %w", row.ID, err)
	}
	t.Normalize()
	return t, nil
}

// FieldError turns waformat's errors into the project's field error (the first problem; the
// message names how many more there are), prefixing its path with prefix. Other errors are
// returned as they are.
func FieldError(err error, prefix string) error {
	var fes waformat.FieldErrors
	if !errors.As(err, &fes) || len(fes) == 0 {
		return err
	}
	msg := fes[0].Message
	if len(fes) > 1 {
		msg += " (and " + strconv.Itoa(len(fes)-1) + " more problems)"
	}
	return &apperr.FieldError{Field: prefix + fes[0].Field, Message: msg}
}
