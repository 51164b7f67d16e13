package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/database"
)

// Groups (teams) and who may change their members.

// Groups returns every group to actor: every user may list them (they are the targets of
// assignment). The members are for those who manage users only: members says whether actor may
// see them, and when not the rows carry none.
func (u *Users) Groups(ctx context.Context, actor *Principal) (rows []db.GroupListRow, members bool, err error) {
	if actor == nil {
		return nil, false, errNoActor
	}
	rows, err = u.q.GroupList(ctx, u.pool)
	if err != nil {
		return nil, false, fmt.Errorf("error listing groups: %w", err)
	}
	members = CanManageUsers(actor)
	if !members {
		for i := range rows {
			rows[i].MemberIds = nil
		}
	}
	return rows, members, nil
}

// GroupInput creates or changes a group; nil fields are left as they are.
type GroupInput struct {
	Name       *string  `json:"name"`
	AutoAssign *bool    `json:"auto_assign"`
	MemberIDs  *[]int64 `json:"member_ids"`
}

// authorizeMembers locks the acting user's row and the rows of the users whose groups a change
// of group membership changes, and decides under those locks that actor may change them
// (authorizeUserChange: only admins change admins).
func (u *Users) authorizeMembers(ctx context.Context, tx pgx.Tx, actor *Principal, changed []int64) error {
	locked, err := u.lockUsers(ctx, tx, append([]int64{actor.UserID}, changed...)...)
	if err != nil {
		return err
	}
	me, ok := locked[actor.UserID]
	if !ok {
		return apperr.Forbidden("your account no longer exists")
	}
	if err := authorizeActor(&me); err != nil {
		return err
	}
	for _, id := range changed {
		// A user that does not exist changes no one; adding it fails on its foreign key.
		if m, ok := locked[id]; ok {
			if err := authorizeUserChange(&me, userChange{before: &m, after: m}); err != nil {
				// The refusal names the member it is about.
				var fe *apperr.ForbiddenError
				if errors.As(err, &fe) {
					return apperr.Forbidden("user %d: %s", id, fe.Reason)
				}
				return err
			}
		}
	}
	return nil
}

// SaveGroup creates a group (id 0) or changes one, with its members when given, as actor, who may
// not add or remove members they may not change (authorizeMembers). Members whose groups change
// get their sockets closed so they reconnect under the new rules.
func (u *Users) SaveGroup(ctx context.Context, sessions *Sessions, actor *Principal, id int64, in GroupInput) (db.GroupGetRow, error) {
	if err := mayManage(actor); err != nil {
		return db.GroupGetRow{}, err
	}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 100 {
			return db.GroupGetRow{}, &apperr.FieldError{Field: "name", Message: "must be 1 to 100 characters"}
		}
		in.Name = &n
	} else if id == 0 {
		return db.GroupGetRow{}, &apperr.FieldError{Field: "name", Message: "is required"}
	}
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		var (
			g      db.Group
			cur    db.GroupGetRow
			before []int64
			err    error
		)
		if id != 0 {
			cur, err = u.q.GroupGet(ctx, tx, id)
			if errors.Is(err, pgx.ErrNoRows) {
				return apperr.NotFound("group", id)
			}
			if err != nil {
				return fmt.Errorf("error loading group %d: %w", id, err)
			}
			before = cur.MemberIds
		}
		var changed []int64
		if in.MemberIDs != nil {
			changed = symmetricDifference(before, *in.MemberIDs)
		}
		if err := u.authorizeMembers(ctx, tx, actor, changed); err != nil {
			return err
		}
		if id == 0 {
			g, err = u.q.GroupCreate(ctx, tx, db.GroupCreateParams{Name: *in.Name, AutoAssign: in.AutoAssign != nil && *in.AutoAssign})
		} else {
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
			return apperr.Conflict("%s: a group with that name exists", *in.Name)
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
				return &apperr.FieldError{Field: "member_ids", Message: "names a user that does not exist"}
			}
			if err != nil {
				return fmt.Errorf("error adding members to group %d: %w", id, err)
			}
		}
		return sessions.permissionsChanged(ctx, tx, union(before, *in.MemberIDs)...)
	})
	if err != nil {
		return db.GroupGetRow{}, err
	}
	return u.q.GroupGet(ctx, u.pool, id)
}

// DeleteGroup deletes a group, as actor, who may not when it has members they may not change
// (authorizeMembers); its conversations keep their agent and lose the group.
func (u *Users) DeleteGroup(ctx context.Context, sessions *Sessions, actor *Principal, id int64) error {
	if err := mayManage(actor); err != nil {
		return err
	}
	err := database.InTx(ctx, u.pool, func(tx pgx.Tx) error {
		cur, err := u.q.GroupGet(ctx, tx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("group", id)
		}
		if err != nil {
			return fmt.Errorf("error loading group %d: %w", id, err)
		}
		if err := u.authorizeMembers(ctx, tx, actor, cur.MemberIds); err != nil {
			return err
		}
		if _, err := u.q.GroupDelete(ctx, tx, id); err != nil {
			return fmt.Errorf("error deleting group %d: %w", id, err)
		}
		return sessions.permissionsChanged(ctx, tx, cur.MemberIds...)
	})
	return err
}

// symmetricDifference is what is in a or b but not both: the users whose membership changes.
func symmetricDifference(a, b []int64) []int64 {
	inA, inB := map[int64]bool{}, map[int64]bool{}
	for _, v := range a {
		inA[v] = true
	}
	for _, v := range b {
		inB[v] = true
	}
	var out []int64
	for _, v := range union(a, b) {
		if inA[v] != inB[v] {
			out = append(out, v)
		}
	}
	return out
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
