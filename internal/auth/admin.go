package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
)

// Errors of user and group administration.
var (
	ErrUserNotFound  = errors.New("user not found")
	ErrGroupNotFound = errors.New("group not found")
	ErrGroupTaken    = errors.New("a group with that name exists")
)

// InputError is bad input to an administration call, named by its field.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + " " + e.Message }

// KindPermissionsChanged is the event written when a user's role, permissions or groups change:
// the real-time hub closes that user's sockets so they reconnect and are authorized afresh.
const KindPermissionsChanged = "user.permissions_changed"

// UserWithGroups is a user and the groups it belongs to.
type UserWithGroups struct {
	db.User
	GroupIDs []int64
}

// List returns every user.
func (u *Users) List(ctx context.Context) ([]UserWithGroups, error) {
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

// GetWithGroups returns one user and its groups.
func (u *Users) GetWithGroups(ctx context.Context, id int64) (UserWithGroups, error) {
	r, err := u.q.UserGetWithGroups(ctx, u.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return UserWithGroups{}, fmt.Errorf("user %d: %w", id, ErrUserNotFound)
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
	MaxConversations   Optional[int32]   `json:"max_conversations"`
	GroupIDs           Optional[[]int64] `json:"group_ids"`
}

// Update applies a patch to a user in one transaction. Disabling revokes every session of the
// user (and closes their sockets); a change of role, permissions or groups closes their sockets
// so they reconnect under the new rules. actor is the admin, who may not disable or demote
// themselves (so an inbox cannot lose its last admin by accident).
func (u *Users) Update(ctx context.Context, sessions *Sessions, actor *Principal, id int64, p UserPatch) (UserWithGroups, error) {
	if p.Role.Set && (p.Role.Value == nil || !ValidRole(*p.Role.Value)) {
		return UserWithGroups{}, &InputError{"role", "must be admin, supervisor or agent"}
	}
	for _, f := range []struct {
		name string
		o    Optional[string]
	}{{"can_read_chats", p.CanReadChats}, {"can_write_chats", p.CanWriteChats}} {
		if f.o.Set && f.o.Value != nil && !ValidScope(*f.o.Value) {
			return UserWithGroups{}, &InputError{f.name, "must be all, group, assigned, none or null (the role's default)"}
		}
	}
	if p.Name.Set && (p.Name.Value == nil || strings.TrimSpace(*p.Name.Value) == "") {
		return UserWithGroups{}, &InputError{"name", "must not be empty"}
	}
	if p.Password.Set && (p.Password.Value == nil || len(*p.Password.Value) < MinPasswordLength) {
		return UserWithGroups{}, &InputError{"password", fmt.Sprintf("must be at least %d characters", MinPasswordLength)}
	}
	if p.MaxConversations.Set && (p.MaxConversations.Value == nil || *p.MaxConversations.Value < 0) {
		return UserWithGroups{}, &InputError{"max_conversations", "must be 0 (no limit) or more"}
	}
	if p.Disabled.Set && p.Disabled.Value == nil {
		return UserWithGroups{}, &InputError{"disabled", "must be true or false"}
	}
	if actor != nil && actor.UserID == id && ((p.Disabled.Set && *p.Disabled.Value) || (p.Role.Set && *p.Role.Value != actor.Role)) {
		return UserWithGroups{}, &InputError{"role", "you may not disable yourself or change your own role"}
	}
	var hash string
	if p.Password.Set {
		var err error
		if hash, err = HashPassword(*p.Password.Value, u.cost); err != nil {
			return UserWithGroups{}, err
		}
	}
	ring := false
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		cur, err := u.q.UserGetForUpdate(ctx, tx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user %d: %w", id, ErrUserNotFound)
		}
		if err != nil {
			return fmt.Errorf("error loading user %d: %w", id, err)
		}
		next := db.UserUpdateParams{
			ID: id, Name: cur.Name, Role: cur.Role, DisabledAt: cur.DisabledAt,
			CanReadChats: cur.CanReadChats, CanWriteChats: cur.CanWriteChats,
			CanManageTemplates: cur.CanManageTemplates, CanManageUsers: cur.CanManageUsers,
			CanViewMetrics: cur.CanViewMetrics, CanUseTags: cur.CanUseTags, MaxConversations: cur.MaxConversations,
		}
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
		if p.MaxConversations.Set {
			next.MaxConversations = *p.MaxConversations.Value
		}
		if _, err := u.q.UserUpdate(ctx, tx, next); err != nil {
			return fmt.Errorf("error updating user %d: %w", id, err)
		}
		if p.Password.Set {
			if err := u.q.UserSetPassword(ctx, tx, db.UserSetPasswordParams{ID: id, PasswordHash: hash}); err != nil {
				return fmt.Errorf("error setting password of user %d: %w", id, err)
			}
		}
		if p.GroupIDs.Set {
			if err := setUserGroups(ctx, u.q, tx, id, p.GroupIDs.Value); err != nil {
				return err
			}
		}
		switch {
		case disabling:
			if sessions != nil {
				ring, err = sessions.RevokeAllTx(ctx, tx, id, RevokeDisabled)
			}
			return err
		case p.Role.Set || p.CanReadChats.Set || p.CanWriteChats.Set || p.GroupIDs.Set:
			ring = true
			return permissionsChanged(ctx, u.q, tx, id)
		}
		return nil
	})
	if err != nil {
		return UserWithGroups{}, err
	}
	if ring && sessions != nil {
		sessions.ring()
	}
	return u.GetWithGroups(ctx, id)
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
		return &InputError{"group_ids", "names a group that does not exist"}
	}
	if err != nil {
		return fmt.Errorf("error setting groups of user %d: %w", userID, err)
	}
	return nil
}

func permissionsChanged(ctx context.Context, q *db.Queries, tx pgx.Tx, userIDs ...int64) error {
	for _, id := range userIDs {
		b, _ := json.Marshal(map[string]int64{"user_id": id})
		if _, err := q.EventInsert(ctx, tx, db.EventInsertParams{Kind: KindPermissionsChanged, Payload: b}); err != nil {
			return fmt.Errorf("error writing %s event: %w", KindPermissionsChanged, err)
		}
	}
	return nil
}

// SetAvailability sets the caller's availability (online, busy or offline).
func (u *Users) SetAvailability(ctx context.Context, id int64, availability string) (db.User, error) {
	if availability != "online" && availability != "busy" && availability != "offline" {
		return db.User{}, &InputError{"availability", "must be online, busy or offline"}
	}
	user, err := u.q.UserSetAvailability(ctx, u.pool, db.UserSetAvailabilityParams{ID: id, Availability: availability})
	if err != nil {
		return db.User{}, fmt.Errorf("error setting availability of user %d: %w", id, err)
	}
	return user, nil
}

// Groups returns every group with its members.
func (u *Users) Groups(ctx context.Context) ([]db.GroupListRow, error) {
	rows, err := u.q.GroupList(ctx, u.pool)
	if err != nil {
		return nil, fmt.Errorf("error listing groups: %w", err)
	}
	return rows, nil
}

// GroupInput creates or changes a group; nil fields are left as they are.
type GroupInput struct {
	Name       *string  `json:"name"`
	AutoAssign *bool    `json:"auto_assign"`
	MemberIDs  *[]int64 `json:"member_ids"`
}

// SaveGroup creates a group (id 0) or changes one, with its members when given. Members whose
// groups change get their sockets closed so they reconnect under the new rules.
func (u *Users) SaveGroup(ctx context.Context, sessions *Sessions, id int64, in GroupInput) (db.GroupGetRow, error) {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 100 {
			return db.GroupGetRow{}, &InputError{"name", "must be 1 to 100 characters"}
		}
		in.Name = &n
	} else if id == 0 {
		return db.GroupGetRow{}, &InputError{"name", "is required"}
	}
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		var (
			g   db.Group
			err error
		)
		var before []int64
		if id == 0 {
			g, err = u.q.GroupCreate(ctx, tx, db.GroupCreateParams{Name: *in.Name, AutoAssign: in.AutoAssign != nil && *in.AutoAssign})
		} else {
			cur, gerr := u.q.GroupGet(ctx, tx, id)
			if errors.Is(gerr, pgx.ErrNoRows) {
				return fmt.Errorf("group %d: %w", id, ErrGroupNotFound)
			}
			if gerr != nil {
				return fmt.Errorf("error loading group %d: %w", id, gerr)
			}
			before = cur.MemberIds
			p := db.GroupUpdateParams{ID: id, Name: cur.Group.Name, AutoAssign: cur.Group.AutoAssign}
			if in.Name != nil {
				p.Name = *in.Name
			}
			if in.AutoAssign != nil {
				p.AutoAssign = *in.AutoAssign
			}
			g, err = u.q.GroupUpdate(ctx, tx, p)
		}
		if database.IsUniqueViolation(err, "groups_name_key") {
			return fmt.Errorf("%s: %w", *in.Name, ErrGroupTaken)
		}
		if err != nil {
			return fmt.Errorf("error saving group: %w", err)
		}
		id = g.ID
		if in.MemberIDs == nil {
			return nil
		}
		if err := u.q.GroupMembersClear(ctx, tx, id); err != nil {
			return fmt.Errorf("error clearing members of group %d: %w", id, err)
		}
		if len(*in.MemberIDs) > 0 {
			err := u.q.GroupMembersAdd(ctx, tx, db.GroupMembersAddParams{GroupID: id, UserIds: *in.MemberIDs})
			if isForeignKeyViolation(err) {
				return &InputError{"member_ids", "names a user that does not exist"}
			}
			if err != nil {
				return fmt.Errorf("error adding members to group %d: %w", id, err)
			}
		}
		return permissionsChanged(ctx, u.q, tx, union(before, *in.MemberIDs)...)
	})
	if err != nil {
		return db.GroupGetRow{}, err
	}
	if sessions != nil && in.MemberIDs != nil {
		sessions.ring()
	}
	return u.q.GroupGet(ctx, u.pool, id)
}

// DeleteGroup deletes a group; its conversations keep their agent and lose the group.
func (u *Users) DeleteGroup(ctx context.Context, sessions *Sessions, id int64) error {
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		cur, err := u.q.GroupGet(ctx, tx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("group %d: %w", id, ErrGroupNotFound)
		}
		if err != nil {
			return fmt.Errorf("error loading group %d: %w", id, err)
		}
		if _, err := u.q.GroupDelete(ctx, tx, id); err != nil {
			return fmt.Errorf("error deleting group %d: %w", id, err)
		}
		return permissionsChanged(ctx, u.q, tx, cur.MemberIds...)
	})
	if err == nil && sessions != nil {
		sessions.ring()
	}
	return err
}

func union(a, b []int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, v := range append(append([]int64{}, a...), b...) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// isForeignKeyViolation reports whether err is PostgreSQL's foreign_key_violation.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
