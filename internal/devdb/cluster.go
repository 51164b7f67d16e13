package devdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// StartCluster starts the throwaway cluster in cfg.Dir on cfg.Port, initializing it first when
// the directory is empty, and returns its server URL. Unlike Ensure it never settles for
// DATABASE_URL or a server on 127.0.0.1:5432: its callers (the chaos suite) restart and freeze
// the server they get, which they must only ever do to a cluster of their own.
func StartCluster(ctx context.Context, cfg *Config) (string, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return "", err
	}
	serverURL, err := start(ctx, &c)
	if err != nil {
		return "", err
	}
	// start accepts any server already answering on the port; make sure it is this cluster.
	if _, err := PostmasterPID(&c); err != nil {
		return "", fmt.Errorf("devdb: a server answers on 127.0.0.1:%d but it is not the cluster in %s: %w", c.Port, c.Dir, err)
	}
	return serverURL, nil
}

// RestartCluster restarts the throwaway cluster in cfg.Dir with `pg_ctl restart -m fast`, which
// ends every connection the way a server crash or failover does, and waits until it accepts
// connections again. pg_ctl reuses the options the cluster was started with (postmaster.opts),
// so the port and settings stay the same.
func RestartCluster(ctx context.Context, cfg *Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	bin, err := findBinDir()
	if err != nil {
		return err
	}
	logFile := filepath.Join(c.Dir, "server.log")
	// -l keeps the server's output off pg_ctl's own, which CombinedOutput would otherwise wait on
	// for as long as the server runs.
	pgctl := asPostgres(ctx, filepath.Join(bin, "pg_ctl"), "-D", c.Dir, "-m", "fast", "-l", logFile,
		"-w", "-t", strconv.Itoa(int(startTimeout.Seconds())), "restart")
	if out, err := pgctl.CombinedOutput(); err != nil {
		return fmt.Errorf("devdb: pg_ctl restart %s: %w: %s (see %s)", c.Dir, err, strings.TrimSpace(string(out)), logFile)
	}
	if err := waitReady(ctx, c.url()); err != nil {
		return fmt.Errorf("devdb: cluster in %s did not accept connections after its restart (see %s): %w", c.Dir, logFile, err)
	}
	return nil
}

// PostmasterPID returns the process id of the running postmaster of the cluster in cfg.Dir, read
// from its postmaster.pid, so that callers can signal the server itself (for example to freeze it
// with SIGSTOP). It fails when the cluster is not running.
func PostmasterPID(cfg *Config) (int, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return 0, err
	}
	path := filepath.Join(c.Dir, "postmaster.pid")
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("devdb: cluster in %s is not running: %w", c.Dir, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("devdb: read %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("devdb: %s does not start with a process id", path)
	}
	// Signal 0 checks that the process exists; EPERM means it exists but belongs to someone else.
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, fmt.Errorf("devdb: postmaster %d of %s is gone (stale postmaster.pid): %w", pid, c.Dir, err)
	}
	return pid, nil
}
