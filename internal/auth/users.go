package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
)

// ErrEmailTaken is returned when creating a user whose email exists.
var ErrEmailTaken = errors.New("a user with that email exists")

// MinPasswordLength is the shortest password accepted for a new user.
const MinPasswordLength = 10

// Users stores users and checks their credentials.
type Users struct {
	pool *pgxpool.Pool
	q    *db.Queries
	// cost is bcrypt's cost; tests lower it.
	cost int
}

// NewUsers returns a user store on pool; bcryptCost 0 means bcrypt's default.
func NewUsers(pool *pgxpool.Pool, bcryptCost int) *Users {
	return &Users{pool: pool, q: db.New(), cost: bcryptCost}
}

// NewUser is a user to create.
type NewUser struct {
	Email, Name, Role, Password string
}

// Create validates and stores a user.
func (u *Users) Create(ctx context.Context, in NewUser) (db.User, error) {
	in.Email = strings.TrimSpace(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	if addr, err := mail.ParseAddress(in.Email); err != nil || addr.Address != in.Email {
		return db.User{}, &InputError{"email", fmt.Sprintf("%q is not a valid address", in.Email)}
	}
	if in.Name == "" {
		return db.User{}, &InputError{"name", "must not be empty"}
	}
	if !ValidRole(in.Role) {
		return db.User{}, &InputError{"role", fmt.Sprintf("%q is not admin, supervisor or agent", in.Role)}
	}
	if len(in.Password) < MinPasswordLength {
		return db.User{}, &InputError{"password", fmt.Sprintf("must be at least %d characters", MinPasswordLength)}
	}
	hash, err := HashPassword(in.Password, u.cost)
	if err != nil {
		return db.User{}, err
	}
	user, err := u.q.UserCreate(ctx, u.pool, db.UserCreateParams{Email: in.Email, Name: in.Name, Role: in.Role, PasswordHash: hash})
	if database.IsUniqueViolation(err, "users_email_key") {
		return db.User{}, fmt.Errorf("%s: %w", in.Email, ErrEmailTaken)
	}
	if err != nil {
		return db.User{}, fmt.Errorf("error creating user %s: %w", in.Email, err)
	}
	return user, nil
}

// Authenticate returns the enabled user with that email and password, or ErrInvalidCredentials.
// Unknown emails, wrong passwords and disabled users are indistinguishable to the caller, in
// answer and in time.
func (u *Users) Authenticate(ctx context.Context, email, password string) (db.User, error) {
	user, err := u.q.UserGetByEmail(ctx, u.pool, strings.TrimSpace(email))
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return db.User{}, fmt.Errorf("error loading user: %w", err)
	}
	ok := CheckPassword(user.PasswordHash, password)
	if !ok || user.DisabledAt != nil {
		return db.User{}, ErrInvalidCredentials
	}
	return user, nil
}

// Get returns a user by id.
func (u *Users) Get(ctx context.Context, id int64) (db.User, error) {
	user, err := u.q.UserGetByID(ctx, u.pool, id)
	if err != nil {
		return db.User{}, fmt.Errorf("error loading user %d: %w", id, err)
	}
	return user, nil
}

// CountAdmins counts enabled admins; make run creates one when there is none.
func (u *Users) CountAdmins(ctx context.Context) (int64, error) {
	n, err := u.q.UserCountAdmins(ctx, u.pool)
	if err != nil {
		return 0, fmt.Errorf("error counting admins: %w", err)
	}
	return n, nil
}
