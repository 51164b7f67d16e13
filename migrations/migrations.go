// Package migrations holds wainbox's schema as goose SQL files. They are embedded in the binary so
// `wainbox migrate` needs nothing beside it, and sqlc reads the same files as its schema.
package migrations

import "embed"

// FS holds every migration, named NNNNN_name.sql and applied in that order.
//
//go:embed *.sql
var FS embed.FS
