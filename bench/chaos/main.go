// Command chaos proves wainbox's delivery guarantees under faults and prints one table.
//
// Everything is real and runs as separate processes, so that a kill -9 is a real crash: a
// throwaway PostgreSQL cluster of its own (which it restarts and freezes), the fake Meta
// (`wainbox simulate`), several `wainbox serve` instances on that database, and a small
// round-robin load balancer in front of them through which agents' requests and Meta's webhooks
// pass. While agents write messages and customers write back, Meta refuses some sends and loses
// some answers, instances are killed, and the database is restarted and frozen. Then it counts,
// from the database and from what the fake Meta received, every message lost, left pending, sent
// twice or sent out of order.
//
// Run it with `make chaos` (or `go run ./bench/chaos -h` for the flags). It is not part of
// `make test`: at the default size it takes a few minutes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/internal/devdb"
)

// options are the command-line flags.
type options struct {
	sends         int
	inbound       int
	convs         int
	rate          float64
	instances     int
	kills         int
	restartDelay  time.Duration
	freeze        time.Duration
	noRestart     bool
	noFreeze      bool
	settle        time.Duration
	killTarget    time.Duration
	rate131000    float64
	rate130429    float64
	lostAnswer    float64
	seed          uint64
	out           string
	dir           string
	bin           string
	keep          bool
	adminEmail    string
	adminPassword string
}

func parseFlags() *options {
	o := &options{adminEmail: "chaos@wainbox.local", adminPassword: "chaos-admin-password"}
	flag.IntVar(&o.sends, "sends", 2000, "messages agents write (the first of each conversation opens it)")
	flag.IntVar(&o.inbound, "inbound", 2000, "messages the fake customers write")
	flag.IntVar(&o.convs, "convs", 40, "conversations the sends are spread over, each written in sequence")
	flag.Float64Var(&o.rate, "rate", 15, "sends per second over all conversations (lowered when the faults would not fit in the load)")
	flag.IntVar(&o.instances, "instances", 3, "wainbox serve instances behind the load balancer")
	flag.IntVar(&o.kills, "kills", 5, "kill -9 of a random instance during the load (each replaced by a fresh one)")
	flag.DurationVar(&o.restartDelay, "restart-delay", 3*time.Second, "how long after a kill its replacement starts")
	flag.DurationVar(&o.freeze, "freeze", 10*time.Second, "how long PostgreSQL is frozen (SIGSTOP) mid-load")
	flag.BoolVar(&o.noRestart, "no-pg-restart", false, "skip the PostgreSQL restart")
	flag.BoolVar(&o.noFreeze, "no-pg-freeze", false, "skip the PostgreSQL freeze")
	flag.DurationVar(&o.settle, "settle", 2*time.Minute, "how long after the load and the last fault every accepted message may take to leave pending")
	flag.DurationVar(&o.killTarget, "kill-target", 60*time.Second, "how soon the jobs a killed instance was running must be released")
	flag.Float64Var(&o.rate131000, "rate-131000", 0.10, "share of sends Meta refuses with 131000 (HTTP 500)")
	flag.Float64Var(&o.rate130429, "rate-130429", 0.05, "share of sends Meta refuses with 130429 (HTTP 429)")
	flag.Float64Var(&o.lostAnswer, "lost-answer-rate", 0.02, "share of sends Meta accepts but whose HTTP answer is lost")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the random choices (victims, jitter); 0 picks one from the clock")
	flag.StringVar(&o.out, "out", "", "also write the table to this file")
	flag.StringVar(&o.dir, "dir", "", "parent of the run directory (cluster, binary, logs); default the system's temp directory")
	flag.StringVar(&o.bin, "bin", "", "run this wainbox binary instead of building one from the working tree")
	flag.BoolVar(&o.keep, "keep", false, "keep the stopped cluster's data directory after the run")
	flag.Parse()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o
}

func main() {
	o := parseFlags()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

func (o *options) validate() error {
	switch {
	case o.sends < 1 || o.inbound < 0 || o.convs < 1:
		return errors.New("-sends and -convs must be positive and -inbound not negative")
	case o.rate <= 0:
		return errors.New("-rate must be positive")
	case o.instances < 2:
		return errors.New("-instances must be at least 2, so that a kill leaves one up")
	case o.kills < 0:
		return errors.New("-kills must not be negative")
	}
	for _, r := range []float64{o.rate131000, o.rate130429, o.lostAnswer} {
		if r < 0 || r > 1 {
			return errors.New("fault rates must be between 0 and 1")
		}
	}
	o.convs = min(o.convs, o.sends)
	return nil
}

// logf prints a progress line with the time since the start, so that the faults can be matched
// with the instances' logs.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos: [%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

var started = time.Now()

// run sets everything up, runs the load and the faults, counts and tears everything down; it
// returns the process's exit code.
func run(ctx context.Context, o *options) (code int) {
	runDir, err := newRunDir(o.dir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	logf("run directory %s (seed %d)", runDir, o.seed)

	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		logf("logs are in %s", runDir)
	}()
	fail := func(err error) int {
		if ctx.Err() != nil {
			logf("interrupted: %v", err)
			return 130
		}
		logf("error: %v", err)
		return 1
	}

	cl, err := startCluster(ctx, filepath.Join(runDir, "pgdata"))
	if cl != nil {
		cleanups = append(cleanups, func() { cl.stop(o.keep) })
	}
	if err != nil {
		return fail(err)
	}
	logf("PostgreSQL is up; its log is %s (moved to %s at the end)",
		filepath.Join(cl.cfg.Dir, "server.log"), filepath.Join(runDir, "postgresql.log"))

	bin := o.bin
	if bin == "" {
		bin, err = buildBinary(ctx, runDir)
	} else {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return fail(err)
	}
	dbURL, err := devdb.EnsureDatabase(ctx, cl.url, "wainbox")
	if err != nil {
		return fail(err)
	}
	if err := prepareDatabase(ctx, bin, runDir, dbURL, o); err != nil {
		return fail(err)
	}

	lb, err := startBalancer(filepath.Join(runDir, "lb.log"))
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, lb.close)

	f := &fleet{bin: bin, runDir: runDir, dbURL: dbURL, lb: lb}
	cleanups = append(cleanups, f.stopAll)
	if err := f.startSimulator(ctx); err != nil {
		return fail(err)
	}
	if err := f.startInstances(ctx, o.instances); err != nil {
		return fail(err)
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, pool.Close)

	lostAnswers, err := setMetaFaults(ctx, f.simURL(), o)
	if err != nil {
		return fail(err)
	}

	api := newAPIClient(lb.url(), o.adminEmail, o.adminPassword)
	if err := api.login(ctx); err != nil {
		return fail(err)
	}
	l := newLoad(o, api, f.simURL())
	if err := l.openConversations(ctx); err != nil {
		return fail(err)
	}

	plan := planFaults(o, l.expectedDuration())
	if plan.rate != o.rate {
		logf("rate lowered from %.1f/s to %.1f/s so that the faults fit in the load", o.rate, plan.rate)
	}
	logf("load: %d sends over %d conversations at %.1f/s and %d inbound, about %s; faults: %s",
		o.sends, o.convs, plan.rate, o.inbound, plan.loadDuration.Round(time.Second), plan.describe())

	// Watchers of the faults' stuck jobs run until the report is written.
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	loadStart := time.Now()
	loadDone := make(chan loadResult, 1)
	go func() { loadDone <- l.run(ctx, plan.rate, loadStart) }()
	events := runFaults(ctx, watchCtx, plan, loadStart, f, cl, pool)
	res := <-loadDone
	loadEnd := time.Now()
	logf("load done in %s: %d sends accepted, %d inbound accepted", loadEnd.Sub(loadStart).Round(time.Second), len(res.sends), len(res.inbound))
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}

	if err := clearMetaFaults(ctx, f.simURL()); err != nil {
		return fail(err)
	}
	lastFault := loadEnd
	for _, e := range events {
		if e.end.After(lastFault) {
			lastFault = e.end
		}
	}
	if lastFault.After(loadEnd) {
		logf("WARNING: the last fault ended %s after the load; lower -rate or fewer -kills to keep them inside it",
			lastFault.Sub(loadEnd).Round(100*time.Millisecond))
	}
	settled := settle(ctx, pool, &res, lastFault, o.settle)
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	stopWatching()

	rep, err := count(ctx, pool, f.simURL(), runDir, &res, events)
	if err != nil {
		return fail(err)
	}
	lostText := fmt.Sprintf("%.0f%%", 100*o.lostAnswer)
	if !lostAnswers {
		lostText += " (not applied: the simulator does not support it)"
	}
	rep.params = fmt.Sprintf("sends %d over %d conversations at %.1f/s, inbound %d, %d instances, %d kills, PostgreSQL restart %s, freeze %s, "+
		"Meta faults 131000 %.0f%% / 130429 %.0f%% / lost answers %s, seed %d",
		o.sends, o.convs, plan.rate, o.inbound, o.instances, o.kills, yesNo(!o.noRestart), freezeText(o),
		100*o.rate131000, 100*o.rate130429, lostText, o.seed)
	rep.settled = settled
	rep.overrun = lastFault.Sub(loadEnd)
	rep.killTarget = o.killTarget
	rep.unexpected = f.unexpectedExits()
	rep.lb = lb.stats()
	rep.apiRetries = api.retries.Load()
	rep.wall = time.Since(started)
	table, ok := rep.render()
	fmt.Println(table)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(table+"\n"), 0o644); err != nil {
			logf("error writing %s: %v", o.out, err)
			return 1
		}
	}
	if !ok {
		return 1
	}
	return 0
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func freezeText(o *options) string {
	if o.noFreeze {
		return "none"
	}
	return o.freeze.String()
}

// newRunDir creates the run's directory, readable by others, because when the suite runs as root
// PostgreSQL runs as the postgres user and must reach the cluster inside it.
func newRunDir(parent string) (string, error) {
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp(parent, "wainbox-chaos-"+time.Now().Format("20060102-150405")+"-")
	if err != nil {
		return "", err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}
