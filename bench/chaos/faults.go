package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The process faults the suite injects.
const (
	faultKill    = "kill -9"
	faultRestart = "PostgreSQL restart"
	faultFreeze  = "PostgreSQL freeze"
)

// dbFaultGrace extends the window of jobs a database fault is answerable for past the moment the
// server answers again: a job fetch whose client gave up during the fault may still be executed
// by the server when it comes back, marking jobs running that no worker will ever run.
const dbFaultGrace = time.Second

// faultGap is the least time between two process faults, so that the effects of one are not
// mistaken for another's.
const faultGap = 3 * time.Second

// setMetaFaults makes the fake Meta refuse and lose sends for the whole load. It reports whether
// the simulator applies lost_answer_rate: a simulator that predates it either refuses the field
// (400) or ignores it (it is then missing from the faults it echoes), and the run goes on
// without lost answers.
func setMetaFaults(ctx context.Context, simURL string, o *options) (bool, error) {
	faults := map[string]any{
		"error_rates":      map[string]float64{"131000": o.rate131000, "130429": o.rate130429},
		"lost_answer_rate": o.lostAnswer,
	}
	status, resp, err := putFaults(ctx, simURL, faults)
	if err != nil {
		return false, err
	}
	if status == http.StatusBadRequest && o.lostAnswer > 0 {
		logf("WARNING: the simulator refused lost_answer_rate (%s); running without lost answers", bytes.TrimSpace(resp))
		delete(faults, "lost_answer_rate")
		if status, resp, err = putFaults(ctx, simURL, faults); err != nil {
			return false, err
		}
		if status != http.StatusOK {
			return false, fmt.Errorf("error setting Meta faults: HTTP %d: %s", status, resp)
		}
		return false, nil
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("error setting Meta faults: HTTP %d: %s", status, resp)
	}
	var echoed map[string]any
	_ = json.Unmarshal(resp, &echoed)
	if _, ok := echoed["lost_answer_rate"]; !ok && o.lostAnswer > 0 {
		logf("WARNING: the simulator ignores lost_answer_rate (its faults are %s); running without lost answers", bytes.TrimSpace(resp))
		return false, nil
	}
	logf("Meta faults set: %s", bytes.TrimSpace(resp))
	return true, nil
}

// clearMetaFaults lets every send through again, for the settling phase.
func clearMetaFaults(ctx context.Context, simURL string) error {
	status, resp, err := putFaults(ctx, simURL, map[string]any{})
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %s", status, resp)
	}
	if err != nil {
		return fmt.Errorf("error clearing Meta faults: %w", err)
	}
	logf("Meta faults cleared")
	return nil
}

func putFaults(ctx context.Context, simURL string, faults map[string]any) (int, []byte, error) {
	body, _ := json.Marshal(faults)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, simURL+"/simulator/faults", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("error setting Meta faults: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// step is one planned process fault, at an offset from the start of the load.
type step struct {
	kind string
	at   time.Duration
	est  time.Duration // how long it is expected to take, to space the steps
}

// faultPlan is the schedule of the process faults and the load's pace.
type faultPlan struct {
	rate         float64
	loadDuration time.Duration
	steps        []step
	restartDelay time.Duration
	freeze       time.Duration
	seed         uint64
}

// planFaults spreads the faults over the middle of the load, from 10 % to 80 % of it, one after
// the other, so that they never overlap and all are over before the load ends. When they do not
// fit, the load is slowed down (the same messages over a longer time) rather than the faults
// crowded together.
func planFaults(o *options, loadDuration time.Duration) faultPlan {
	p := faultPlan{rate: o.rate, loadDuration: loadDuration, restartDelay: o.restartDelay, freeze: o.freeze, seed: o.seed}
	kill := step{kind: faultKill, est: o.restartDelay + 4*time.Second}
	restart := step{kind: faultRestart, est: 5 * time.Second}
	freeze := step{kind: faultFreeze, est: o.freeze + 2*time.Second}
	// The database faults go a third and two thirds of the way through the kills.
	addedRestart, addedFreeze := o.noRestart, o.noFreeze
	for i := range o.kills {
		if !addedRestart && i >= o.kills/3 {
			p.steps, addedRestart = append(p.steps, restart), true
		}
		if !addedFreeze && i >= 2*o.kills/3 {
			p.steps, addedFreeze = append(p.steps, freeze), true
		}
		p.steps = append(p.steps, kill)
	}
	if !addedRestart {
		p.steps = append(p.steps, restart)
	}
	if !addedFreeze {
		p.steps = append(p.steps, freeze)
	}
	if len(p.steps) == 0 {
		return p
	}

	var total time.Duration
	for _, s := range p.steps {
		total += s.est + faultGap
	}
	window := loadDuration * 7 / 10
	if total > window {
		p.loadDuration = total * 10 / 7
		p.rate = o.rate * float64(loadDuration) / float64(p.loadDuration)
		window = total
	}
	slack := (window - total) / time.Duration(len(p.steps))
	at := p.loadDuration / 10
	for i := range p.steps {
		p.steps[i].at = at
		at += p.steps[i].est + faultGap + slack
	}
	return p
}

func (p faultPlan) describe() string {
	if len(p.steps) == 0 {
		return "none"
	}
	parts := make([]string, len(p.steps))
	for i, s := range p.steps {
		parts[i] = fmt.Sprintf("%s at %s", s.kind, s.at.Round(time.Second))
	}
	return strings.Join(parts, ", ")
}

// faultEvent is one process fault as it happened.
type faultEvent struct {
	kind   string
	detail string
	start  time.Time
	end    time.Time
	// ref is the moment from which nothing should be left running: the kill, the end of the
	// restart, the thaw.
	ref time.Time
	// The jobs a fault is answerable for are those still running whose attempt started before
	// upper: ref for a kill, ref and dbFaultGrace for a database fault. For a kill they are the
	// dead instance's (victimID, its River client id, when its log gave it); otherwise those whose
	// attempt started at or after lower, the previous fault's upper, so that jobs an earlier
	// fault left running are not counted twice.
	lower, upper time.Time
	victimID     string
	err          error
	watch        *jobWatch
}

// runFaults runs the planned faults one after the other, each at its time from loadStart or
// faultGap after the previous one is over (and past its window), and returns them. Each fault's
// stuck-job watcher keeps running until watchCtx ends.
func runFaults(ctx, watchCtx context.Context, p faultPlan, loadStart time.Time, f *fleet, cl *cluster, pool *pgxpool.Pool) []*faultEvent {
	rng := rand.New(rand.NewPCG(p.seed, 0x6368616f73))
	var events []*faultEvent
	var lower, notBefore time.Time
	for _, s := range p.steps {
		due := loadStart.Add(s.at)
		if due.Before(notBefore) {
			due = notBefore // the previous fault ran late: keep the gap rather than the schedule
		}
		if !sleep(ctx, time.Until(due)) {
			break
		}
		ev := &faultEvent{kind: s.kind, start: time.Now(), lower: lower}
		switch s.kind {
		case faultKill:
			victim, at, err := f.killRandom(rng)
			ev.ref = at
			if err != nil {
				ev.err = err
				break
			}
			ev.upper = at
			ev.detail = fmt.Sprintf("%s (pid %d)", victim.name, victim.pid())
			if ev.victimID = victim.riverClientID(); ev.victimID != "" {
				ev.detail = fmt.Sprintf("%s (pid %d, River client %s)", victim.name, victim.pid(), ev.victimID)
			}
			logf("%s %s", faultKill, ev.detail)
			ev.watch = watchJobs(watchCtx, pool, ev)
			sleep(ctx, p.restartDelay)
			fresh, err := f.startInstance(ctx)
			f.retire(victim)
			if err != nil {
				ev.err = fmt.Errorf("error starting its replacement: %w", err)
				break
			}
			ev.detail += ", replaced by " + fresh.name
		case faultRestart:
			logf("%s (pg_ctl restart -m fast)", faultRestart)
			err := cl.restart(ctx)
			ev.ref = time.Now()
			ev.upper = ev.ref.Add(dbFaultGrace)
			if err != nil {
				ev.err = err
				break
			}
			ev.detail = fmt.Sprintf("pg_ctl restart returned after %s", ev.ref.Sub(ev.start).Round(10*time.Millisecond))
			// Under load pg_ctl and the first connection can take seconds longer than the
			// server itself: its own start time says when it was back.
			var startedAt time.Time
			if pool.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&startedAt) == nil {
				ev.detail += fmt.Sprintf(", the new server started %s after the request", startedAt.Sub(ev.start).Round(10*time.Millisecond))
			}
			logf("PostgreSQL restarted: %s", ev.detail)
			ev.watch = watchJobs(watchCtx, pool, ev)
		case faultFreeze:
			logf("%s: SIGSTOP for %s", faultFreeze, p.freeze)
			n, err := cl.freeze(ctx, p.freeze)
			ev.ref = time.Now()
			ev.upper = ev.ref.Add(dbFaultGrace)
			if err != nil {
				ev.err = err
				break
			}
			ev.detail = fmt.Sprintf("%d processes for %s", n, ev.ref.Sub(ev.start).Round(10*time.Millisecond))
			logf("PostgreSQL thawed (SIGCONT), %s", ev.detail)
			ev.watch = watchJobs(watchCtx, pool, ev)
		}
		ev.end = time.Now()
		if ev.err != nil {
			logf("%s failed: %v", s.kind, ev.err)
		}
		events = append(events, ev)
		if !ev.upper.IsZero() {
			lower = ev.upper
		}
		notBefore = ev.end
		if ev.upper.After(notBefore) {
			notBefore = ev.upper
		}
		notBefore = notBefore.Add(faultGap)
	}
	return events
}

// stuckJob is a River job found still running after a fault.
type stuckJob struct {
	ID          int64
	Kind        string
	MessageID   string
	AttemptedAt time.Time
	AttemptedBy string
}

// jobWatch follows the jobs that were running when a fault struck until none is left running:
// River must notice that their worker is gone (or that its answer was lost) and make them
// available again, or the messages they carry wait. Jobs of the live instances finish in
// milliseconds, so what stays running past the first polls is the fault's.
type jobWatch struct {
	done chan struct{}

	mu       sync.Mutex
	resolved bool
	after    time.Duration // from ref until none was left, or until the watch ended
	maxLeft  int
	lastLeft []stuckJob // the last non-empty list seen
}

// watchJobs polls river_job for the jobs ev is answerable for that are still running, until there
// are none. A poll that fails (the database is restarting or frozen) is retried.
func watchJobs(ctx context.Context, pool *pgxpool.Pool, ev *faultEvent) *jobWatch {
	w := &jobWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			jobs, err := runningJobs(ctx, pool, ev)
			if err == nil {
				w.mu.Lock()
				w.after = time.Since(ev.ref)
				if len(jobs) == 0 {
					w.resolved = true
					w.mu.Unlock()
					return
				}
				w.maxLeft = max(w.maxLeft, len(jobs))
				w.lastLeft = jobs
				w.mu.Unlock()
			}
			if !sleep(ctx, 250*time.Millisecond) {
				w.mu.Lock()
				w.after = time.Since(ev.ref)
				w.mu.Unlock()
				return
			}
		}
	}()
	return w
}

func runningJobs(ctx context.Context, pool *pgxpool.Pool, ev *faultEvent) ([]stuckJob, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	const query = `
		SELECT id, kind, coalesce(args->>'message_id', ''), attempted_at,
		       coalesce(attempted_by[array_upper(attempted_by, 1)], '')
		FROM river_job
		WHERE state = 'running' AND attempted_at < $1 AND `
	var rows pgx.Rows
	var err error
	if ev.victimID != "" {
		rows, err = pool.Query(ctx, query+`attempted_by[array_upper(attempted_by, 1)] = $2 ORDER BY id`, ev.upper, ev.victimID)
	} else {
		rows, err = pool.Query(ctx, query+`attempted_at >= $2 ORDER BY id`, ev.upper, ev.lower)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stuckJob
	for rows.Next() {
		var j stuckJob
		if err := rows.Scan(&j.ID, &j.Kind, &j.MessageID, &j.AttemptedAt, &j.AttemptedBy); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// result reads the watch's outcome once it has ended.
func (w *jobWatch) result() (resolved bool, after time.Duration, maxLeft int, left []stuckJob) {
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.resolved, w.after, w.maxLeft, w.lastLeft
}
