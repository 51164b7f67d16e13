package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/internal/dbtest"
)

// pgbenchTPS measures the raw commit rate of PostgreSQL for script at each client count: the
// machine's ceiling for any transaction of that shape.
func pgbenchTPS(ctx context.Context, e *Env, setupSQL, script string, clients ...int) (map[int]float64, error) {
	bin, err := pgbenchPath()
	if err != nil {
		return nil, err
	}
	url, drop, err := dbtest.NewDatabase(ctx, e.Server)
	if err != nil {
		return nil, err
	}
	defer drop()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, setupSQL)
	_ = conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("error preparing pgbench tables: %w", err)
	}
	dir, err := os.MkdirTemp("", "wainbox-pgbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		return nil, err
	}
	out := map[int]float64{}
	for _, c := range clients {
		secs := strconv.Itoa(max(1, int(e.Duration.Seconds())))
		cmd := exec.CommandContext(ctx, bin, "-n", "-c", strconv.Itoa(c), "-j", "2", "-T", secs, "-f", file, url)
		b, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("pgbench failed: %v: %s", err, b)
		}
		m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(b)
		if m == nil {
			return nil, fmt.Errorf("no tps in pgbench output: %s", b)
		}
		out[c], _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return out, nil
}

func pgbenchPath() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("pgbench not found (apt-get install postgresql-client)")
}
