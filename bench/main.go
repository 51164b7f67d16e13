// Command bench measures wainbox on this machine and prints one table. Every figure stands next
// to a ceiling measured in the same run on the same database server (pgbench, or the same work done
// in Go without HTTP), because the machines it runs on are shared and noisy: the ratio is the
// figure to compare between runs, not the absolute number.
//
// Run it with `make bench`. It needs a PostgreSQL server (DATABASE_URL, 127.0.0.1:5432, or the
// throwaway cluster devdb starts) and pgbench for the raw ceiling.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wainbox/wainbox/internal/app"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/devdb"
)

// Row is one line of the report.
type Row struct {
	Section string
	Metric  string
	Value   string
	Ceiling string // the machine's own reference figure, measured in this run
	Ratio   string
	Target  string
}

// Env is what every benchmark section gets.
type Env struct {
	Server   string        // PostgreSQL server URL (database "postgres")
	Duration time.Duration // how long one load phase runs
	Logger   *slog.Logger
}

type section struct {
	name string
	run  func(ctx context.Context, e *Env) ([]Row, error)
}

// sections run in this order; each adds rows to the one table.
var sections = []section{
	{"send", benchSend},
	{"priority", benchPriority},
	{"webhook", benchWebhook},
	{"fanout", benchFanout},
	{"media", benchMedia},
	{"reports", benchReports},
	{"lists", benchLists},
}

func main() {
	duration := flag.Duration("duration", 8*time.Second, "length of each load phase")
	only := flag.String("only", "", "run only the sections whose names contain this")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server and load generators) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	server, err := devdb.Ensure(ctx, &devdb.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	env := &Env{Server: server, Duration: *duration, Logger: logger}

	var rows []Row
	failed := false
	for _, s := range sections {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: running %s...\n", s.name)
		start := time.Now()
		r, err := s.run(ctx, env)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s failed: %v\n", s.name, err)
			failed = true
		}
		rows = append(rows, r...)
		fmt.Fprintf(os.Stderr, "bench: %s done in %s\n", s.name, time.Since(start).Round(time.Second))
	}
	printTable(rows)
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func printTable(rows []Row) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "section\tmetric\tvalue\tceiling (same run)\tratio\ttarget")
	fmt.Fprintln(tw, "-------\t------\t-----\t------------------\t-----\t------")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Section, r.Metric, r.Value, dash(r.Ceiling), dash(r.Ratio), dash(r.Target))
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// instance starts a wainbox on a fresh database with the simulator, like `make run` does.
func instance(ctx context.Context, e *Env, extra map[string]string) (*app.App, func(), error) {
	url, drop, err := dbtest.NewDatabase(ctx, e.Server)
	if err != nil {
		return nil, nil, err
	}
	env := map[string]string{
		"DATABASE_URL":       url,
		"HTTP_ADDR":          "127.0.0.1:0",
		"SIMULATOR":          "1",
		"AUTH_SECRET":        "bench-secret-bench-secret-bench-secret-0123",
		"LOG_LEVEL":          "warn",
		"DATABASE_MAX_CONNS": "40",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		drop()
		return nil, nil, err
	}
	a, err := app.New(ctx, cfg, e.Logger, &app.Options{BcryptCost: 4})
	if err != nil {
		drop()
		return nil, nil, err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown(5 * time.Second)
		drop()
		return nil, nil, err
	}
	return a, func() { _ = a.Shutdown(10 * time.Second); drop() }, nil
}

// latencies summarizes a sample of durations.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(float64(len(s)-1) * p)
	return s[idx]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func perSec(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}
