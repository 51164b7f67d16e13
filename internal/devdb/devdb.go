// Package devdb finds or starts a PostgreSQL server for local development and tests, so that
// `make run` and `make test` work on a fresh machine without manual database setup.
package devdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LocalURL is the server URL tried before starting a throwaway cluster, because most developer
// machines and CI images already run PostgreSQL there with trust authentication.
const LocalURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultPort is the port of the throwaway cluster; it avoids 5432 so that it never collides with
// a system server.
const DefaultPort = 55432

// pingTimeout bounds each probe connection so that an unreachable server fails fast.
const pingTimeout = 2 * time.Second

// startTimeout bounds how long a freshly started cluster may take to accept connections.
const startTimeout = 30 * time.Second

// Config tells Ensure where the throwaway cluster lives and where to report progress; the zero
// value (or nil) selects the defaults.
type Config struct {
	// Dir holds the throwaway cluster; it defaults to ".pgdata" in the repository root (the
	// nearest directory above the working directory that holds go.mod).
	Dir string
	// Port is the throwaway cluster's port; it defaults to DefaultPort.
	Port int
	// Logger receives debug details; it defaults to discarding them.
	Logger *slog.Logger
	// Stderr receives progress messages meant for a human; it defaults to os.Stderr.
	Stderr io.Writer
}

// withDefaults returns a copy of cfg with every unset field filled in, so callers may pass nil.
func (cfg *Config) withDefaults() (Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Dir == "" {
		root, err := repoRoot()
		if err != nil {
			return c, err
		}
		c.Dir = filepath.Join(root, ".pgdata")
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("devdb: resolve %s: %w", c.Dir, err)
	}
	c.Dir = dir
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	return c, nil
}

// url is the server URL of the throwaway cluster.
func (cfg *Config) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", cfg.Port)
}

// repoRoot walks up from the working directory to the directory holding go.mod, so that the
// default cluster lives in one place whichever package's tests run.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("devdb: get working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("devdb: no go.mod above the working directory; set Config.Dir")
		}
		dir = parent
	}
}

// Ensure returns the URL of a PostgreSQL server to use: DATABASE_URL when it is set, else a
// server answering on 127.0.0.1:5432, else the throwaway cluster under cfg.Dir, which it
// initializes and starts (installing PostgreSQL with apt-get when root on Debian) if needed.
func Ensure(ctx context.Context, cfg *Config) (string, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return "", err
	}
	err = ping(ctx, LocalURL)
	if err == nil {
		return LocalURL, nil
	}
	c.Logger.Debug("devdb: no usable server on 127.0.0.1:5432", "err", err)
	if err := ping(ctx, c.url()); err == nil {
		return c.url(), nil
	}
	return start(ctx, &c)
}

// Stop shuts the throwaway cluster under cfg.Dir down with `pg_ctl stop -m fast`; it does
// nothing when the cluster is not running.
func Stop(ctx context.Context, cfg *Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	bin, err := findBinDir()
	if err != nil {
		return err
	}
	if out, err := asPostgres(ctx, filepath.Join(bin, "pg_ctl"), "-D", c.Dir, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("devdb: pg_ctl stop %s: %w: %s", c.Dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// start initializes (if needed) and starts the throwaway cluster, holding a file lock so that
// parallel test binaries do not race each other through initdb and pg_ctl.
func start(ctx context.Context, c *Config) (string, error) {
	unlock, err := lock(ctx, c.Dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if ping(ctx, c.url()) == nil { // Another process started it while we waited for the lock.
		return c.url(), nil
	}

	bin, err := findBinDir()
	if errors.Is(err, errNoPostgres) && os.Geteuid() == 0 && fileExists("/usr/bin/apt-get") {
		if err = aptInstall(ctx, c.Stderr); err == nil {
			bin, err = findBinDir()
		}
	}
	if err != nil {
		return "", err
	}
	if err := prepareDir(ctx, c.Dir); err != nil {
		return "", err
	}
	if !fileExists(filepath.Join(c.Dir, "PG_VERSION")) {
		fmt.Fprintf(c.Stderr, "devdb: creating a throwaway PostgreSQL cluster in %s\n", c.Dir)
		initdb := asPostgres(ctx, filepath.Join(bin, "initdb"), "-D", c.Dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
		if out, err := initdb.CombinedOutput(); err != nil {
			return "", fmt.Errorf("devdb: initdb %s: %w: %s", c.Dir, err, strings.TrimSpace(string(out)))
		}
	}

	fmt.Fprintf(c.Stderr, "devdb: starting PostgreSQL from %s on 127.0.0.1:%d\n", c.Dir, c.Port)
	// track_commit_timestamp lets the benchmark time the fan-out from each commit itself
	// (pg_xact_commit_timestamp) rather than from the start of its transaction.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=300 -c track_commit_timestamp=on", c.Port, c.Dir)
	logFile := filepath.Join(c.Dir, "server.log")
	pgctl := asPostgres(ctx, filepath.Join(bin, "pg_ctl"), "-D", c.Dir, "-o", opts, "-l", logFile, "-w", "-t", strconv.Itoa(int(startTimeout.Seconds())), "start")
	if out, err := pgctl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("devdb: pg_ctl start %s: %w: %s (see %s)", c.Dir, err, strings.TrimSpace(string(out)), logFile)
	}
	if err := waitReady(ctx, c.url()); err != nil {
		return "", fmt.Errorf("devdb: cluster in %s did not accept connections (see %s): %w", c.Dir, logFile, err)
	}
	return c.url(), nil
}

// ping connects to serverURL and disconnects, reporting whether the server is usable.
func ping(ctx context.Context, serverURL string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// waitReady polls serverURL until a connection succeeds or startTimeout passes.
func waitReady(ctx context.Context, serverURL string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		err := ping(ctx, serverURL)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lock takes an exclusive flock on path, polling so that ctx can cancel the wait; the returned
// function releases it.
func lock(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("devdb: create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devdb: open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // Closing the file releases the lock.
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("devdb: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("devdb: wait for lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errNoPostgres reports that initdb and pg_ctl are not installed.
var errNoPostgres = errors.New("devdb: PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL (e.g. apt-get install postgresql) or set DATABASE_URL")

// findBinDir returns the directory holding initdb and pg_ctl: from PATH, else the newest
// /usr/lib/postgresql/<version>/bin, where Debian installs them off PATH.
func findBinDir() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if pgctl, err := exec.LookPath("pg_ctl"); err == nil && filepath.Dir(initdb) == filepath.Dir(pgctl) {
			return filepath.Dir(initdb), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if fileExists(filepath.Join(dir, "initdb")) && fileExists(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", errNoPostgres
}

// aptInstall installs PostgreSQL with apt-get, sending its output to stderr so that stdout stays
// clean for callers that print a URL.
func aptInstall(ctx context.Context, stderr io.Writer) error {
	for _, args := range [][]string{{"update"}, {"install", "-y", "postgresql"}} {
		fmt.Fprintf(stderr, "devdb: PostgreSQL not found; running apt-get %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "/usr/bin/apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("devdb: apt-get %s: %w; install PostgreSQL or set DATABASE_URL", args[0], err)
		}
	}
	return nil
}

// prepareDir creates the cluster directory and, when running as root, hands it to the postgres
// OS user (creating that user if missing), because initdb and postgres refuse to run as root.
func prepareDir(ctx context.Context, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("devdb: create parent of %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("devdb: create %s: %w", dir, err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		if out, err := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home", "postgres").CombinedOutput(); err != nil {
			return fmt.Errorf("devdb: no OS user postgres to run PostgreSQL as root, and useradd failed (%w: %s); create it or set DATABASE_URL", err, strings.TrimSpace(string(out)))
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return fmt.Errorf("devdb: look up OS user postgres: %w", err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("devdb: chown %s to postgres: %w", dir, err)
	}
	if err := asPostgres(ctx, "test", "-w", dir, "-a", "-x", dir).Run(); err != nil {
		return fmt.Errorf("devdb: the postgres OS user cannot reach %s; make its parent directories traversable (chmod o+x) or set DATABASE_URL", dir)
	}
	return nil
}

// asPostgres builds a command that runs as the postgres OS user when we are root (through
// runuser) and as ourselves otherwise; it runs in / so that the postgres user can always enter
// its working directory.
func asPostgres(ctx context.Context, name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	return cmd
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// EnsureDatabase creates database name on the server at serverURL unless it exists, so that each
// purpose (the dev server, a test package) gets its own database; it returns serverURL pointing
// at that database. A concurrent creator winning the race counts as success.
func EnsureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	dbURL, err := WithDatabase(serverURL, name)
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("devdb: connect to create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("devdb: check database %s: %w", name, err)
	}
	if exists {
		return dbURL, nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	// A concurrent CREATE DATABASE fails with duplicate_database, or with unique_violation on
	// pg_database's name index when both passed the existence check at the same time.
	if errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.DuplicateDatabase || pgErr.Code == pgerrcode.UniqueViolation) {
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("devdb: create database %s: %w", name, err)
	}
	return dbURL, nil
}

// WithDatabase returns serverURL with its database replaced by name, keeping user, host, port
// and query, so that one server URL can serve several databases.
func WithDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("devdb: %q is not a postgres:// URL", redact(serverURL))
	}
	u.Path, u.RawPath = "/"+name, ""
	if q := u.Query(); q.Has("dbname") { // A dbname parameter would override the path.
		q.Set("dbname", name)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// redact hides a password in serverURL so that it can appear in error messages.
func redact(serverURL string) string {
	if u, err := url.Parse(serverURL); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}
