// Package quickreplies is agents' saved responses: a shortcut, a body with variables such as
// {{contact.name}}, and optionally a template or interactive message in Meta's request shape.
//
// A quick reply is personal (its owner's alone), a group's (its members') or the team's
// (everyone's). The rules on who sees and who changes one are decided here, in the transaction of
// each use case and under the row lock of the row it changes (see policy.go); the API only parses
// and renders.
package quickreplies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/waformat"
)

// The use cases answer the project's errors (internal/apperr): *apperr.FieldError for bad input
// (shortcut, body, message.…, scope, group_id, prefix), *apperr.NotFoundError for a quick reply
// that does not exist or that the caller may not see (existence does not leak),
// *apperr.ForbiddenError for one the caller sees but may not change, and *apperr.ConflictError
// for a shortcut taken in its scope (case-insensitively).

// Scope says who shares a quick reply.
type Scope string

// Scopes of a quick reply.
const (
	ScopePersonal Scope = "personal" // its owner's alone
	ScopeGroup    Scope = "group"    // the members of one group (and whoever sees every group)
	ScopeTeam     Scope = "team"     // everyone who reads chats
)

// QuickReply is a saved response as its caller sees it.
type QuickReply struct {
	ID    int64
	Scope Scope
	// OwnerID is set for personal ones, GroupID for a group's; neither for the team's.
	OwnerID  *int64
	GroupID  *int64
	Shortcut string
	// Body is the text sent, with variables (Expand); when Message is set, Message is sent
	// instead and Body, which may then be empty, only describes it.
	Body    string
	Message *waformat.Message
	// Editable says whether the caller may change or delete it.
	Editable  bool
	CreatedBy *int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Service runs the quick replies' use cases.
type Service struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool, q: db.New()}
}

// Input is a new quick reply. Scope defaults to personal; GroupID is for (and required by) a
// group's.
type Input struct {
	Scope    Scope
	GroupID  *int64
	Shortcut string
	Body     string
	Message  *waformat.Message
}

// Create stores a quick reply. Anyone may keep personal ones; a group's or the team's need
// can_manage_templates (auth.CanManageTemplates) and that the caller sees the scope: a group's
// quick replies as a member or one who sees every group, the team's as one who reads chats.
func (s *Service) Create(ctx context.Context, p *auth.Principal, in Input) (QuickReply, error) {
	if in.Scope == "" {
		in.Scope = ScopePersonal
	}
	msg, err := validateInput(&in)
	if err != nil {
		return QuickReply{}, err
	}
	var row db.QuickReply
	err = database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := authorizeCreate(p, in.Scope, in.GroupID); err != nil {
			return err
		}
		params := db.QuickReplyInsertParams{Shortcut: in.Shortcut, Body: in.Body, Message: msg, CreatedBy: &p.UserID}
		switch in.Scope {
		case ScopePersonal:
			params.OwnerID = &p.UserID
		case ScopeGroup:
			params.GroupID = in.GroupID
		}
		row, err = s.q.QuickReplyInsert(ctx, tx, params)
		return storeError(err, in.Shortcut)
	})
	if err != nil {
		return QuickReply{}, err
	}
	return view(p, &row)
}

// Get returns a quick reply the caller sees (not found otherwise).
func (s *Service) Get(ctx context.Context, p *auth.Principal, id int64) (QuickReply, error) {
	row, err := s.visible(ctx, s.pool, p, id)
	if err != nil {
		return QuickReply{}, err
	}
	return view(p, &row)
}

// Patch is a change to a quick reply: nil fields stay as they are; SetMessage with a nil Message
// removes the message. A quick reply's scope does not change: make a new one instead.
type Patch struct {
	Shortcut   *string
	Body       *string
	Message    *waformat.Message
	SetMessage bool
}

// Update changes a quick reply, deciding under its row lock: the owner changes a personal one,
// managers (auth.CanManageTemplates) a group's or the team's they see. One the caller does not see
// is not found; one they see but may not change is forbidden.
func (s *Service) Update(ctx context.Context, p *auth.Principal, id int64, patch Patch) (QuickReply, error) {
	if patch.Shortcut != nil {
		if err := validateShortcut(*patch.Shortcut); err != nil {
			return QuickReply{}, err
		}
	}
	if patch.Body != nil {
		if err := validateBody(*patch.Body); err != nil {
			return QuickReply{}, err
		}
	}
	var msg []byte
	if patch.SetMessage {
		var err error
		if msg, err = validateMessage(patch.Message); err != nil {
			return QuickReply{}, err
		}
	}
	var row db.QuickReply
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := s.forUpdate(ctx, tx, p, id)
		if err != nil {
			return err
		}
		params := db.QuickReplyUpdateParams{ID: id, Shortcut: cur.Shortcut, Body: cur.Body, Message: cur.Message}
		if patch.Shortcut != nil {
			params.Shortcut = *patch.Shortcut
		}
		if patch.Body != nil {
			params.Body = *patch.Body
		}
		if patch.SetMessage {
			params.Message = msg
		}
		if err := requireContent(params.Body, params.Message != nil); err != nil {
			return err
		}
		row, err = s.q.QuickReplyUpdate(ctx, tx, params)
		return storeError(err, params.Shortcut)
	})
	if err != nil {
		return QuickReply{}, err
	}
	return view(p, &row)
}

// Delete removes a quick reply, under the rules of Update.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id int64) error {
	return database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.forUpdate(ctx, tx, p, id); err != nil {
			return err
		}
		if _, err := s.q.QuickReplyDelete(ctx, tx, id); err != nil {
			return fmt.Errorf("error deleting quick reply %d: %w", id, err)
		}
		return nil
	})
}

// Filter narrows Search: Prefix matches the start of the shortcut case-insensitively (a leading
// "/", the panel's trigger, is ignored); Scope, when set, keeps one scope.
type Filter struct {
	Prefix string
	Scope  Scope
}

// Cursor is where a page of Search ends: its last quick reply's shortcut and id.
type Cursor struct {
	Shortcut string
	ID       int64
}

// MaxPrefixLength bounds Filter.Prefix; no shortcut is longer.
const MaxPrefixLength = MaxShortcutLength

// Search lists the quick replies the caller sees, by shortcut (case-insensitive) then id, at most
// limit of them, after the cursor when it is not nil.
func (s *Service) Search(ctx context.Context, p *auth.Principal, f Filter, after *Cursor, limit int) ([]QuickReply, error) {
	prefix, err := validateFilter(&f)
	if err != nil {
		return nil, err
	}
	if !validPrincipal(p) || limit <= 0 {
		return []QuickReply{}, nil
	}
	params := db.QuickReplyVisibleParams{
		UserID:    p.UserID,
		Shared:    readsChats(p),
		AllGroups: auth.SeesAllConversations(p),
		GroupIds:  p.GroupIDs,
		Scope:     string(f.Scope),
		Prefix:    prefix,
		RowLimit:  int32(limit),
	}
	if params.GroupIds == nil {
		params.GroupIds = []int64{}
	}
	if after != nil {
		params.AfterShortcut, params.AfterID = &after.Shortcut, &after.ID
	}
	rows, err := s.q.QuickReplyVisible(ctx, s.pool, params)
	if err != nil {
		return nil, fmt.Errorf("error listing quick replies: %w", err)
	}
	out := make([]QuickReply, len(rows))
	for i := range rows {
		if out[i], err = view(p, &rows[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Expanded is a quick reply ready to send: Text is its body with the variables filled in, and
// Message, when the quick reply has one, is what to send instead, its text fields filled in the
// same way (ExpandMessage). Neither is validated for sending: the send path checks them as any
// message (the text's length, the message's limits, a template against the stored templates).
type Expanded struct {
	ID       int64
	Shortcut string
	Text     string
	Message  *waformat.Message
}

// Use returns quick reply id, which the caller must see, expanded with vars (not found
// otherwise). The caller's right to write to the conversation it goes to is the send path's to
// check, as for any message.
func (s *Service) Use(ctx context.Context, p *auth.Principal, id int64, vars Vars) (Expanded, error) {
	return s.UseTx(ctx, s.pool, p, id, vars)
}

// UseTx is Use on tx: the send path calls it inside its own transaction.
func (s *Service) UseTx(ctx context.Context, tx db.DBTX, p *auth.Principal, id int64, vars Vars) (Expanded, error) {
	row, err := s.visible(ctx, tx, p, id)
	if err != nil {
		return Expanded{}, err
	}
	msg, err := decodeMessage(&row)
	if err != nil {
		return Expanded{}, err
	}
	return Expanded{ID: row.ID, Shortcut: row.Shortcut, Text: Expand(row.Body, vars), Message: ExpandMessage(msg, vars)}, nil
}

// visible loads a quick reply the caller sees.
func (s *Service) visible(ctx context.Context, dbtx db.DBTX, p *auth.Principal, id int64) (db.QuickReply, error) {
	row, err := s.q.QuickReplyGet(ctx, dbtx, id)
	if err != nil {
		return row, notFound(err, id)
	}
	if !visible(p, &row) {
		return row, apperr.NotFound("quick reply", id)
	}
	return row, nil
}

// forUpdate locks a quick reply and decides whether the caller may change it.
func (s *Service) forUpdate(ctx context.Context, tx pgx.Tx, p *auth.Principal, id int64) (db.QuickReply, error) {
	row, err := s.q.QuickReplyGetForUpdate(ctx, tx, id)
	if err != nil {
		return row, notFound(err, id)
	}
	return row, authorizeChange(p, &row)
}

func notFound(err error, id int64) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound("quick reply", id)
	}
	return fmt.Errorf("error loading quick reply %d: %w", id, err)
}

// storeError translates what the database refuses on insert and update.
func storeError(err error, shortcut string) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case database.IsUniqueViolation(err, ""):
		return apperr.Conflict("shortcut %q is taken in this scope", shortcut)
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation && pgErr.ConstraintName == "quick_replies_group_id_fkey":
		return &apperr.FieldError{Field: "group_id", Message: "names a group that does not exist"}
	}
	return fmt.Errorf("error storing quick reply: %w", err)
}

// view is a row as the caller sees it.
func view(p *auth.Principal, row *db.QuickReply) (QuickReply, error) {
	msg, err := decodeMessage(row)
	if err != nil {
		return QuickReply{}, err
	}
	return QuickReply{
		ID: row.ID, Scope: scopeOf(row), OwnerID: row.OwnerID, GroupID: row.GroupID, Shortcut: row.Shortcut,
		Body: row.Body, Message: msg, Editable: editable(p, row), CreatedBy: row.CreatedBy,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
	}, nil
}

func decodeMessage(row *db.QuickReply) (*waformat.Message, error) {
	if row.Message == nil {
		return nil, nil
	}
	var m waformat.Message
	if err := json.Unmarshal(row.Message, &m); err != nil {
		return nil, fmt.Errorf("error decoding the message of quick reply %d: %w", row.ID, err)
	}
	return &m, nil
}

func scopeOf(row *db.QuickReply) Scope {
	switch {
	case row.OwnerID != nil:
		return ScopePersonal
	case row.GroupID != nil:
		return ScopeGroup
	default:
		return ScopeTeam
	}
}
