package auth

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/database"
)

// MinPasswordLength is the shortest password accepted for a new user, in bytes.
const MinPasswordLength = 10

// MaxPasswordLength is the longest password accepted, in bytes: bcrypt reads no further, so a
// longer one would be stored as its first 72 bytes (and bcrypt refuses to hash it).
const MaxPasswordLength = 72

// validPassword checks a new password's length; field names it in the error.
func validPassword(field, password string) error {
	if len(password) < MinPasswordLength {
		return &apperr.FieldError{Field: field, Message: fmt.Sprintf("must be at least %d characters", MinPasswordLength)}
	}
	if len(password) > MaxPasswordLength {
		return &apperr.FieldError{Field: field, Message: fmt.Sprintf("must be at most %d bytes (bcrypt's limit)", MaxPasswordLength)}
	}
	return nil
}

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

// Create validates and stores a user. It decides no permission: it is for the command line and
// the first admin; the API creates users through CreateBy.
func (u *Users) Create(ctx context.Context, in NewUser) (db.User, error) {
	hash, err := u.prepare(&in)
	if err != nil {
		return db.User{}, err
	}
	return u.insert(ctx, u.pool, &in, hash)
}

// prepare validates and normalizes a new user and hashes its password.
func (u *Users) prepare(in *NewUser) (string, error) {
	in.Email = strings.TrimSpace(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	if addr, err := mail.ParseAddress(in.Email); err != nil || addr.Address != in.Email {
		return "", &apperr.FieldError{Field: "email", Message: fmt.Sprintf("%q is not a valid address", in.Email)}
	}
	if in.Name == "" {
		return "", &apperr.FieldError{Field: "name", Message: "must not be empty"}
	}
	if !ValidRole(in.Role) {
		return "", &apperr.FieldError{Field: "role", Message: fmt.Sprintf("%q is not admin, supervisor or agent", in.Role)}
	}
	if err := validPassword("password", in.Password); err != nil {
		return "", err
	}
	return HashPassword(in.Password, u.cost)
}

func (u *Users) insert(ctx context.Context, q db.DBTX, in *NewUser, hash string) (db.User, error) {
	user, err := u.q.UserCreate(ctx, q, db.UserCreateParams{Email: in.Email, Name: in.Name, Role: in.Role, PasswordHash: hash})
	if database.IsUniqueViolation(err, "users_email_key") {
		return db.User{}, apperr.Conflict("%s: a user with that email exists", in.Email)
	}
	if err != nil {
		return db.User{}, fmt.Errorf("error creating user %s: %w", in.Email, err)
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
