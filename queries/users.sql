-- name: UserCreate :one
INSERT INTO users (email, name, role, password_hash)
VALUES (@email, @name, @role, @password_hash)
RETURNING *;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE lower(email) = lower(@email);

-- name: UserGetByID :one
SELECT * FROM users WHERE id = @id;

-- name: UserCountAdmins :one
SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL;
