package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/database"
)

// UserWithGroups is a user and the groups it belongs to.
type UserWithGroups struct {
	db.User
	GroupIDs []int64
}

// List returns every user to actor, who must manage users (mayManage).
func (u *Users) List(ctx context.Context, actor *Principal) ([]UserWithGroups, error) {
	if err := mayManage(actor); err != nil {
		return nil, err
	}
	rows, err := u.q.UserList(ctx, u.pool)
	if err != nil {
		return nil, fmt.Errorf("error listing users: %w", err)
	}
	out := make([]UserWithGroups, len(rows))
	for i, r := range rows {
		out[i] = UserWithGroups{r.User, r.GroupIds}
	}
	return out, nil
}

// Colleague is a user as every other user sees them: who assigned, wrote or holds a lock.
type Colleague struct {
	ID   int64
	Name string
	Role string
}

// Directory returns every enabled user's id, name and role to any signed-in user (actor only
// needs to be one), so a panel can name who holds a conversation or its lock. Emails,
// permissions and groups stay with those who manage users (List).
func (u *Users) Directory(ctx context.Context, actor *Principal) ([]Colleague, error) {
	if actor == nil {
		return nil, &apperr.ForbiddenError{Reason: "no caller"}
	}
	rows, err := u.q.UserList(ctx, u.pool)
	if err != nil {
		return nil, fmt.Errorf("error listing colleagues: %w", err)
	}
	out := make([]Colleague, 0, len(rows))
	for _, r := range rows {
		if r.User.DisabledAt == nil {
			out = append(out, Colleague{ID: r.User.ID, Name: r.User.Name, Role: r.User.Role})
		}
	}
	return out, nil
}

// GetWithGroups returns one user and its groups to actor, who must manage users (mayManage).
func (u *Users) GetWithGroups(ctx context.Context, actor *Principal, id int64) (UserWithGroups, error) {
	if err := mayManage(actor); err != nil {
		return UserWithGroups{}, err
	}
	return u.withGroups(ctx, id)
}

// Me returns the caller's own user and groups: everyone may read themselves.
func (u *Users) Me(ctx context.Context, actor *Principal) (UserWithGroups, error) {
	if actor == nil {
		return UserWithGroups{}, errNoActor
	}
	return u.withGroups(ctx, actor.UserID)
}

// withGroups loads user id and its groups, deciding no permission.
func (u *Users) withGroups(ctx context.Context, id int64) (UserWithGroups, error) {
	r, err := u.q.UserGetWithGroups(ctx, u.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return UserWithGroups{}, apperr.NotFound("user", id)
	}
	if err != nil {
		return UserWithGroups{}, fmt.Errorf("error loading user %d: %w", id, err)
	}
	return UserWithGroups{r.User, r.GroupIds}, nil
}

// Optional is a PATCH field: Set says it was present; a present null is Value nil.
type Optional[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON records that the field was present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// UserPatch is a change to a user. A permission override set to null goes back to the role's
// default.
type UserPatch struct {
	Name               Optional[string]  `json:"name"`
	Role               Optional[string]  `json:"role"`
	Password           Optional[string]  `json:"password"`
	Disabled           Optional[bool]    `json:"disabled"`
	CanReadChats       Optional[string]  `json:"can_read_chats"`
	CanWriteChats      Optional[string]  `json:"can_write_chats"`
	CanManageTemplates Optional[bool]    `json:"can_manage_templates"`
	CanManageUsers     Optional[bool]    `json:"can_manage_users"`
	CanViewMetrics     Optional[bool]    `json:"can_view_metrics"`
	CanUseTags         Optional[bool]    `json:"can_use_tags"`
	CanViewReports     Optional[bool]    `json:"can_view_reports"`
	CanExportData      Optional[bool]    `json:"can_export_data"`
	MaxConversations   Optional[int32]   `json:"max_conversations"`
	GroupIDs           Optional[[]int64] `json:"group_ids"`
}

// validate checks the fields of a patch that need no database.
func (p *UserPatch) validate() error {
	if p.Role.Set && (p.Role.Value == nil || !ValidRole(*p.Role.Value)) {
		return &apperr.FieldError{Field: "role", Message: "must be admin, supervisor or agent"}
	}
	for _, f := range []struct {
		name string
		o    Optional[string]
	}{{"can_read_chats", p.CanReadChats}, {"can_write_chats", p.CanWriteChats}} {
		if f.o.Set && f.o.Value != nil && !ValidScope(*f.o.Value) {
			return &apperr.FieldError{Field: f.name, Message: "must be all, group, assigned, none or null (the role's default)"}
		}
	}
	if p.Name.Set && (p.Name.Value == nil || strings.TrimSpace(*p.Name.Value) == "") {
		return &apperr.FieldError{Field: "name", Message: "must not be empty"}
	}
	if p.Password.Set {
		if p.Password.Value == nil {
			return &apperr.FieldError{Field: "password", Message: "must be a string"}
		}
		if err := validPassword("password", *p.Password.Value); err != nil {
			return err
		}
	}
	if p.MaxConversations.Set && (p.MaxConversations.Value == nil || *p.MaxConversations.Value < 0) {
		return &apperr.FieldError{Field: "max_conversations", Message: "must be 0 (no limit) or more"}
	}
	if p.Disabled.Set && p.Disabled.Value == nil {
		return &apperr.FieldError{Field: "disabled", Message: "must be true or false"}
	}
	return nil
}

// apply returns cur with the patch's role, name, disabled state, permission overrides and
// capacity applied, and whether the patch disables an enabled user.
func (p *UserPatch) apply(cur db.User) (db.User, bool) {
	next := cur
	if p.Name.Set {
		next.Name = strings.TrimSpace(*p.Name.Value)
	}
	if p.Role.Set {
		next.Role = *p.Role.Value
	}
	disabling := false
	if p.Disabled.Set {
		switch {
		case *p.Disabled.Value && cur.DisabledAt == nil:
			now := time.Now()
			next.DisabledAt, disabling = &now, true
		case !*p.Disabled.Value:
			next.DisabledAt = nil
		}
	}
	setStr := func(dst **string, o Optional[string]) {
		if o.Set {
			*dst = o.Value
		}
	}
	setBool := func(dst **bool, o Optional[bool]) {
		if o.Set {
			*dst = o.Value
		}
	}
	setStr(&next.CanReadChats, p.CanReadChats)
	setStr(&next.CanWriteChats, p.CanWriteChats)
	setBool(&next.CanManageTemplates, p.CanManageTemplates)
	setBool(&next.CanManageUsers, p.CanManageUsers)
	setBool(&next.CanViewMetrics, p.CanViewMetrics)
	setBool(&next.CanUseTags, p.CanUseTags)
	setBool(&next.CanViewReports, p.CanViewReports)
	setBool(&next.CanExportData, p.CanExportData)
	if p.MaxConversations.Set {
		next.MaxConversations = *p.MaxConversations.Value
	}
	return next, disabling
}

// save writes next, the patched row, with the patch's groups.
func (u *Users) save(ctx context.Context, tx pgx.Tx, next *db.User, p *UserPatch) error {
	if _, err := u.q.UserUpdate(ctx, tx, db.UserUpdateParams{
		ID: next.ID, Name: next.Name, Role: next.Role, DisabledAt: next.DisabledAt,
		CanReadChats: next.CanReadChats, CanWriteChats: next.CanWriteChats,
		CanManageTemplates: next.CanManageTemplates, CanManageUsers: next.CanManageUsers,
		CanViewMetrics: next.CanViewMetrics, CanUseTags: next.CanUseTags, MaxConversations: next.MaxConversations,
		CanViewReports: next.CanViewReports, CanExportData: next.CanExportData,
	}); err != nil {
		return fmt.Errorf("error updating user %d: %w", next.ID, err)
	}
	if p.GroupIDs.Set {
		return setUserGroups(ctx, u.q, tx, next.ID, p.GroupIDs.Value)
	}
	return nil
}

// lockUsers locks the rows of ids in id order (UsersForUpdate) and returns them by id; a user
// that does not exist is absent from the map.
func (u *Users) lockUsers(ctx context.Context, tx pgx.Tx, ids ...int64) (map[int64]db.User, error) {
	rows, err := u.q.UsersForUpdate(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("error locking users %v: %w", ids, err)
	}
	m := make(map[int64]db.User, len(rows))
	for _, r := range rows {
		m[r.ID] = r
	}
	return m, nil
}

// lockActorAndUser locks the acting user's row and user id's, and returns both as they are now.
func (u *Users) lockActorAndUser(ctx context.Context, tx pgx.Tx, actor *Principal, id int64) (db.User, db.User, error) {
	locked, err := u.lockUsers(ctx, tx, actor.UserID, id)
	if err != nil {
		return db.User{}, db.User{}, err
	}
	me, ok := locked[actor.UserID]
	if !ok {
		return db.User{}, db.User{}, apperr.Forbidden("your account no longer exists")
	}
	target, ok := locked[id]
	if !ok {
		return db.User{}, db.User{}, apperr.NotFound("user", id)
	}
	return me, target, nil
}

// errNoActor refuses an administration call without an acting user: every such change is
// decided for someone, so a missing one is a bug, refused rather than let through.
var errNoActor = errors.New("auth: an acting user and Sessions are required")

// Update applies a patch to a user in one transaction, as actor. Whether actor may make the
// change is decided in that transaction, on the actor's and the user's rows as they are under
// their row locks (authorizeUserChange). Disabling, and setting the password, revoke every
// session of the user (and close their sockets); a change of role, permissions or groups closes
// their sockets so they reconnect under the new rules. Nobody disables or demotes themselves (so
// an inbox cannot lose its last admin by accident), nor sets their own password here: that is
// ChangePassword's, which asks for the current one.
func (u *Users) Update(ctx context.Context, sessions *Sessions, actor *Principal, id int64, p UserPatch) (UserWithGroups, error) {
	if sessions == nil {
		return UserWithGroups{}, errNoActor
	}
	if err := mayManage(actor); err != nil {
		return UserWithGroups{}, err
	}
	if err := p.validate(); err != nil {
		return UserWithGroups{}, err
	}
	if actor.UserID == id && ((p.Disabled.Set && *p.Disabled.Value) || (p.Role.Set && *p.Role.Value != actor.Role)) {
		return UserWithGroups{}, &apperr.FieldError{Field: "role", Message: "you may not disable yourself or change your own role"}
	}
	if actor.UserID == id && p.Password.Set {
		return UserWithGroups{}, &apperr.FieldError{Field: "password", Message: "change your own password with POST /api/me/password, which asks for the current one"}
	}
	var hash string
	if p.Password.Set {
		var err error
		if hash, err = HashPassword(*p.Password.Value, u.cost); err != nil {
			return UserWithGroups{}, err
		}
	}
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		me, cur, err := u.lockActorAndUser(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		next, disabling := p.apply(cur)
		if err := authorizeUserChange(&me, userChange{before: &cur, after: next, password: p.Password.Set}); err != nil {
			return err
		}
		if err := u.save(ctx, tx, &next, &p); err != nil {
			return err
		}
		if p.Password.Set {
			if err := u.q.UserSetPassword(ctx, tx, db.UserSetPasswordParams{ID: id, PasswordHash: hash}); err != nil {
				return fmt.Errorf("error setting password of user %d: %w", id, err)
			}
		}
		switch {
		case disabling:
			return sessions.RevokeAllTx(ctx, tx, id, RevokeDisabled)
		case p.Password.Set:
			// Whoever knew the old password, or holds a token from a login with it, is out.
			return sessions.RevokeAllTx(ctx, tx, id, RevokePassword)
		case p.Role.Set || p.CanReadChats.Set || p.CanWriteChats.Set || p.GroupIDs.Set:
			return sessions.permissionsChanged(ctx, tx, id)
		case p.CanViewReports.Set || p.CanExportData.Set:
			// Taking away the export of customers' data applies at once, not a session cache later.
			return sessions.permissionsChanged(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return UserWithGroups{}, err
	}
	return u.withGroups(ctx, id)
}

// CreateBy creates a user as actor: p carries the new user's name, role and password (required)
// and any other field of a patch. The user and its fields are written in one transaction, which
// also decides, on the actor's row under its lock, that the actor may grant what the user gets.
func (u *Users) CreateBy(ctx context.Context, actor *Principal, email string, p UserPatch) (UserWithGroups, error) {
	if err := mayManage(actor); err != nil {
		return UserWithGroups{}, err
	}
	str := func(o Optional[string]) string {
		if o.Value == nil {
			return ""
		}
		return *o.Value
	}
	in := NewUser{Email: email, Name: str(p.Name), Role: str(p.Role), Password: str(p.Password)}
	rest := p
	rest.Name, rest.Role, rest.Password = Optional[string]{}, Optional[string]{}, Optional[string]{}
	if err := rest.validate(); err != nil {
		return UserWithGroups{}, err
	}
	hash, err := u.prepare(&in)
	if err != nil {
		return UserWithGroups{}, err
	}
	var id int64
	err = database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		locked, err := u.lockUsers(ctx, tx, actor.UserID)
		if err != nil {
			return err
		}
		me, ok := locked[actor.UserID]
		if !ok {
			return apperr.Forbidden("your account no longer exists")
		}
		created, err := u.insert(ctx, tx, &in, hash)
		if err != nil {
			return err
		}
		next, _ := rest.apply(created)
		if err := authorizeUserChange(&me, userChange{after: next}); err != nil {
			return err
		}
		id = created.ID
		return u.save(ctx, tx, &next, &rest)
	})
	if err != nil {
		return UserWithGroups{}, err
	}
	return u.withGroups(ctx, id)
}

// RevokeSessions ends every session of user id, as actor, and closes their sockets. Whether actor
// may is decided in the same transaction, under the user's row lock.
func (u *Users) RevokeSessions(ctx context.Context, sessions *Sessions, actor *Principal, id int64) error {
	if sessions == nil {
		return errNoActor
	}
	if err := mayManage(actor); err != nil {
		return err
	}
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		me, cur, err := u.lockActorAndUser(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if err := authorizeUserChange(&me, userChange{before: &cur, after: cur}); err != nil {
			return err
		}
		return sessions.RevokeAllTx(ctx, tx, id, RevokeAdmin)
	})
	return err
}

func setUserGroups(ctx context.Context, q *db.Queries, tx pgx.Tx, userID int64, ids *[]int64) error {
	if err := q.UserGroupsClear(ctx, tx, userID); err != nil {
		return fmt.Errorf("error clearing groups of user %d: %w", userID, err)
	}
	if ids == nil || len(*ids) == 0 {
		return nil
	}
	err := q.UserGroupsAdd(ctx, tx, db.UserGroupsAddParams{UserID: userID, GroupIds: *ids})
	if isForeignKeyViolation(err) {
		return &apperr.FieldError{Field: "group_ids", Message: "names a group that does not exist"}
	}
	if err != nil {
		return fmt.Errorf("error setting groups of user %d: %w", userID, err)
	}
	return nil
}

// SetAvailability sets the caller's own availability (online, busy or offline).
func (u *Users) SetAvailability(ctx context.Context, actor *Principal, availability string) (db.User, error) {
	if actor == nil {
		return db.User{}, errNoActor
	}
	id := actor.UserID
	if availability != "online" && availability != "busy" && availability != "offline" {
		return db.User{}, &apperr.FieldError{Field: "availability", Message: "must be online, busy or offline"}
	}
	user, err := u.q.UserSetAvailability(ctx, u.pool, db.UserSetAvailabilityParams{ID: id, Availability: availability})
	if err != nil {
		return db.User{}, fmt.Errorf("error setting availability of user %d: %w", id, err)
	}
	return user, nil
}
