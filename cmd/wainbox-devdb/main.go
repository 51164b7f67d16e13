// Command wainbox-devdb prints the URL of a PostgreSQL database for local development, finding or
// starting a server first (see package devdb), so that the Makefile can run
// `DATABASE_URL=$(go run ./cmd/wainbox-devdb)`. Only the URL goes to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"

	"github.com/wainbox/wainbox/internal/devdb"
)

func main() {
	database := flag.String("database", "wainbox", "name of the database to create and print")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	dbURL, err := run(ctx, *database)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wainbox-devdb:", err)
		os.Exit(1)
	}
	fmt.Println(dbURL)
}

// run returns DATABASE_URL unchanged when it names a database, and otherwise the URL of database
// name on the server devdb.Ensure finds, creating the database if needed.
func run(ctx context.Context, name string) (string, error) {
	if env := os.Getenv("DATABASE_URL"); env != "" && namesDatabase(env) {
		return env, nil
	}
	serverURL, err := devdb.Ensure(ctx, nil)
	if err != nil {
		return "", err
	}
	return devdb.EnsureDatabase(ctx, serverURL, name)
}

// namesDatabase reports whether a postgres:// URL has a database in its path or query; anything
// else (such as a key=value connection string) is assumed to name one and is left alone.
func namesDatabase(serverURL string) bool {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return true
	}
	return strings.Trim(u.Path, "/") != "" || u.Query().Get("dbname") != ""
}
